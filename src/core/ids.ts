import { v7 as uuidv7 } from 'uuid';

/** A new run id: a UUIDv7, so ids sort by creation time. */
export function newRunId(): string {
  return uuidv7();
}

/** A new worker id: sortable, unique per worker start. */
export function newWorkerId(): string {
  return uuidv7();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
