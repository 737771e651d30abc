import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { client, errorText, fieldErrors, type JobInfo } from '../api.js';
import { ErrorNote } from '../components.js';
import { navigate, runPath } from '../router.js';

/** The part of JSON Schema the form understands; anything else is edited as JSON. */
interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
}

type Value = Record<string, unknown>;

function initialValue(schema: Schema): unknown {
  if (schema.default !== undefined) return schema.default;
  if (schema.type === 'object' && schema.properties) {
    const value: Value = {};
    for (const [name, field] of Object.entries(schema.properties)) {
      const initial = initialValue(field);
      if (initial !== undefined) value[name] = initial;
    }
    return value;
  }
  return undefined;
}

/** Whether every field of the schema gets a control of its own (else the JSON box). */
function formable(schema: Schema): boolean {
  if (schema.enum) return true;
  if (schema.type === 'object')
    return Object.values(schema.properties ?? {}).every((field) => formable(field));
  return ['string', 'number', 'integer', 'boolean'].includes(String(schema.type));
}

/** The paths (`input.region`) of the fields that get a control of their own in the form. */
function fieldPaths(schema: Schema, path: string[], into = new Set<string>()): Set<string> {
  if (schema.type === 'object' && schema.properties) {
    for (const [name, field] of Object.entries(schema.properties))
      fieldPaths(field, [...path, name], into);
  } else into.add(path.join('.'));
  return into;
}

/** A field error's path as the input's author wrote it: `nodes.0`, not `input.nodes.0`. */
const inputPath = (path: string) =>
  path === 'input' ? '' : path.startsWith('input.') ? path.slice('input.'.length) : path;

/**
 * The job's input as a form made from its JSON Schema (fields, defaults, enums, nested objects),
 * or a JSON box; the API's field errors show beside their fields. Opens the new run on success.
 */
export function TriggerForm({ job, onCancel }: { job: JobInfo; onCancel: () => void }) {
  const schema = (job.inputSchema ?? {}) as Schema;
  const asForm = schema.type === 'object' && formable(schema);
  const [value, setValue] = useState<unknown>(() => initialValue(schema) ?? {});
  const [json, setJson] = useState(() => JSON.stringify(initialValue(schema) ?? {}, null, 2));
  const [rawMode, setRawMode] = useState(!asForm);
  const [errors, setErrors] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // Errors at a path no control of the form shows (an array's item, the whole input) are listed
  // beside the JSON box, or under the form.
  const own = rawMode ? new Set<string>() : fieldPaths(schema, ['input']);
  const unshown = [...errors].filter(([path]) => !own.has(path));
  const summary = errors.size
    ? rawMode || unshown.length === 0
      ? 'Check the marked fields.'
      : 'Check the problems listed above.'
    : error;

  const submit = async (event: Event) => {
    event.preventDefault();
    let input: unknown = value;
    if (rawMode) {
      try {
        input = JSON.parse(json || '{}');
      } catch {
        setErrors(new Map([['input', 'Not valid JSON.']]));
        setError(null);
        return;
      }
    }
    setBusy(true);
    try {
      const { run } = await client.trigger(job.name, { input });
      navigate(runPath(run.id));
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      setError(fields.size ? null : errorText(err));
      setBusy(false);
    }
  };

  return (
    <form
      class="trigger"
      onSubmit={(e) => void submit(e)}
      aria-label={`Trigger ${job.name}`}
      noValidate
    >
      <h2>Trigger {job.name}</h2>
      {asForm ? (
        <label class="inline">
          <input
            type="checkbox"
            checked={rawMode}
            onChange={(e) => setRawMode(e.currentTarget.checked)}
          />
          Edit as JSON
        </label>
      ) : null}
      {rawMode ? (
        <Field
          label="Input (JSON)"
          error={unshown.length ? <Problems problems={unshown} /> : undefined}
        >
          {(id, describedBy) => (
            <textarea
              id={id}
              rows={6}
              value={json}
              aria-describedby={describedBy}
              aria-invalid={unshown.length > 0}
              onInput={(e) => setJson(e.currentTarget.value)}
            />
          )}
        </Field>
      ) : (
        <ObjectFields
          schema={schema}
          value={value as Value}
          path={['input']}
          errors={errors}
          onChange={(next) => {
            setValue(next);
            setJson(JSON.stringify(next, null, 2));
          }}
        />
      )}
      {!rawMode && unshown.length ? (
        <div class="field-error">
          <Problems problems={unshown} />
        </div>
      ) : null}
      <ErrorNote error={summary} />
      <div class="dialog-buttons">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          Start run
        </button>
      </div>
    </form>
  );
}

function ObjectFields(props: {
  schema: Schema;
  value: Value;
  path: string[];
  errors: Map<string, string>;
  onChange: (value: Value) => void;
}) {
  const { schema, value, path, errors, onChange } = props;
  return (
    <>
      {Object.entries(schema.properties ?? {}).map(([name, field]) => {
        const fieldPath = [...path, name];
        const set = (next: unknown) => {
          const copy = { ...value };
          if (next === undefined) delete copy[name];
          else copy[name] = next;
          onChange(copy);
        };
        if (field.type === 'object')
          return (
            <fieldset key={name}>
              <legend>{name}</legend>
              <ObjectFields
                schema={field}
                value={(value[name] as Value | undefined) ?? {}}
                path={fieldPath}
                errors={errors}
                onChange={set}
              />
            </fieldset>
          );
        const required = schema.required?.includes(name) && field.default === undefined;
        return (
          <Field
            key={name}
            label={name + (required ? ' (required)' : '')}
            hint={field.description}
            error={errors.get(fieldPath.join('.'))}
          >
            {(id, describedBy) => (
              <Control
                id={id}
                describedBy={describedBy}
                schema={field}
                value={value[name]}
                onChange={set}
                invalid={errors.has(fieldPath.join('.'))}
              />
            )}
          </Field>
        );
      })}
    </>
  );
}

function Control(props: {
  id: string;
  describedBy: string | undefined;
  schema: Schema;
  value: unknown;
  invalid: boolean;
  onChange: (value: unknown) => void;
}) {
  const { id, describedBy, schema, value, invalid, onChange } = props;
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': invalid };
  if (schema.enum)
    return (
      <select
        {...common}
        value={value === undefined ? '' : JSON.stringify(value)}
        onChange={(e) =>
          onChange(e.currentTarget.value ? JSON.parse(e.currentTarget.value) : undefined)
        }
      >
        <option value="">—</option>
        {schema.enum.map((option) => (
          <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  if (schema.type === 'boolean')
    return (
      <input
        {...common}
        type="checkbox"
        checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  if (schema.type === 'number' || schema.type === 'integer')
    return (
      <input
        {...common}
        type="number"
        step={schema.type === 'integer' ? 1 : 'any'}
        value={fieldText(value)}
        onInput={(e) => {
          const text = e.currentTarget.value;
          onChange(text === '' ? undefined : Number(text));
        }}
      />
    );
  return (
    <input
      {...common}
      type="text"
      value={fieldText(value)}
      onInput={(e) => onChange(e.currentTarget.value === '' ? undefined : e.currentTarget.value)}
    />
  );
}

/** A primitive as an input's text; anything else as JSON. */
const fieldText = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
};

let fieldCounter = 0;

/** The API's field errors, each with the path it is about (the whole input has none). */
function Problems({ problems }: { problems: [string, string][] }) {
  return (
    <ul class="problems">
      {problems.map(([path, message]) => {
        const where = inputPath(path);
        return (
          <li key={path}>
            {where ? (
              <>
                <code>{where}</code>:{' '}
              </>
            ) : null}
            {message}
          </li>
        );
      })}
    </ul>
  );
}

/** A labelled control with its hint and its error from the API. */
function Field(props: {
  label: string;
  hint?: string | undefined;
  error: ComponentChildren | undefined;
  children: (id: string, describedBy: string | undefined) => ComponentChildren;
}) {
  const [id] = useState(() => `field-${++fieldCounter}`);
  const { error } = props;
  const describedBy = [props.hint ? `${id}-hint` : '', error ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id, describedBy || undefined)}
      {props.hint ? (
        <small id={`${id}-hint`} class="muted">
          {props.hint}
        </small>
      ) : null}
      {error ? (
        <div id={`${id}-error`} class="field-error">
          {error}
        </div>
      ) : null}
    </div>
  );
}
