// Thread ids of one storage image: 0 is the main thread, 1..63 are handed to
// workers (copy workers, workload threads). An id is free again once its
// thread has exited and been reaped.
import { THREAD_MAX } from "../core/codes.js";
import { EngineError } from "./errors.js";

export class ThreadIds {
  private readonly used = new Set<number>([0]);

  take(): number {
    for (let id = 1; id < THREAD_MAX; id++) {
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw new EngineError("LIMIT_REACHED", `all ${THREAD_MAX - 1} worker thread slots of the storage image are in use`);
  }

  release(id: number): void {
    if (id !== 0) this.used.delete(id);
  }

  get count(): number {
    return this.used.size;
  }
}
