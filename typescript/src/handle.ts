// One native handle: freed exactly once, by close() or, if the owner is dropped unclosed, by
// the FinalizationRegistry safety net.
import { closedError } from "./errors.js";
import type { Pointer } from "./native.js";

const safetyNet = new FinalizationRegistry<() => void>((free) => free());

export class NativeHandle {
  #ptr: Pointer | null;
  readonly #free: (ptr: Pointer) => void;
  readonly #what: string;

  constructor(ptr: Pointer, free: (ptr: Pointer) => void, owner: object, what: string) {
    this.#ptr = ptr;
    this.#free = free;
    this.#what = what;
    // The cleanup holds the address, never the owner, so the owner stays collectable.
    safetyNet.register(owner, () => free(ptr), this);
  }

  /** The live pointer; throws `InvalidStateError` (`client_closed`) once closed. */
  get ptr(): Pointer {
    if (this.#ptr === null) throw closedError(this.#what);
    return this.#ptr;
  }

  get closed(): boolean {
    return this.#ptr === null;
  }

  /** Frees the handle; later calls do nothing. */
  close(): void {
    const ptr = this.#ptr;
    if (ptr === null) return;
    this.#ptr = null;
    safetyNet.unregister(this);
    this.#free(ptr);
  }
}
