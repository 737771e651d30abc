/**
 * An async start shared by every caller while it runs or once it succeeded. A failure is not kept:
 * a store that was down at the first call must not keep the next one from trying again.
 */
export class Once {
  private promise: Promise<void> | null = null;

  constructor(private readonly start: () => Promise<void>) {}

  run(): Promise<void> {
    this.promise ??= this.start().catch((err: unknown) => {
      this.promise = null;
      throw err;
    });
    return this.promise;
  }

  /** Whether a start is under way or done. */
  get begun(): boolean {
    return this.promise !== null;
  }

  /** Forget the start (after a stop), so the next run() starts again. */
  reset(): void {
    this.promise = null;
  }
}
