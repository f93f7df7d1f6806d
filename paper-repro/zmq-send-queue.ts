/**
 * tslab (1.0.22) sends on its ZeroMQ sockets without awaiting each send. zeromq.js (6.x) resolves
 * at most 512 sends in a row synchronously, defers the next one to a later turn of the event loop
 * so as not to starve it, and throws EBUSY at any send made before that deferred one is written.
 * A cell that shows progress for minutes sends thousands of display updates, so tslab's next
 * status or output message after the 512th could kill the kernel with "Socket is busy writing"
 * (it did, in 00-teaching at `cpu`). Here a send that would be refused waits behind the one in
 * flight instead, and every later send waits behind it, so the order of messages is kept.
 */

type Send = (this: object, ...args: unknown[]) => Promise<void>;
type QueuedSend = Send & { pbeOriginal?: Send };

/** The prototype that defines `send` for this socket class (zeromq's native base, shared by every class). */
export function sendOwner(socketClass: { name: string; prototype: object }): { send: QueuedSend } {
  let owner: object | null = socketClass.prototype;
  while (owner && !Object.prototype.hasOwnProperty.call(owner, 'send')) owner = Object.getPrototypeOf(owner) as object | null;
  if (!owner) throw new Error(`zmq-send-queue: ${socketClass.name} has no send method`);
  return owner as { send: QueuedSend };
}

/** Makes `send` of every socket class given wait for a deferred send instead of throwing EBUSY; idempotent. */
export function queueSends(socketClasses: { name: string; prototype: object }[]): void {
  for (const cls of socketClasses) {
    const owner = sendOwner(cls);
    if (owner.send.pbeOriginal) continue;
    const send = owner.send;
    // per socket: the promise of its latest send, and how many sends wait behind it
    const latest = new WeakMap<object, Promise<void>>();
    const waiting = new WeakMap<object, number>();
    const queued: QueuedSend = function (this: object, ...args: unknown[]) {
      if (!waiting.get(this)) {
        try {
          const sent = send.apply(this, args);
          latest.set(this, sent);
          return sent;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || !latest.has(this)) throw e;
        }
      }
      waiting.set(this, (waiting.get(this) ?? 0) + 1);
      const sent = latest
        .get(this)!
        .catch(() => undefined)
        .then(() => {
          waiting.set(this, waiting.get(this)! - 1);
          return send.apply(this, args);
        });
      latest.set(this, sent);
      return sent;
    };
    queued.pbeOriginal = send;
    // The native method is read-only but configurable.
    Object.defineProperty(owner, 'send', { value: queued, writable: false, enumerable: false, configurable: true });
  }
}
