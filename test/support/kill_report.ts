/**
 * The parent side of the kill loops' line protocol (the children write it
 * through test/support/kill_workload.js): records every operation per key,
 * in submission order, and which ones were acknowledged.
 */
export interface KillOp {
  id: number;
  isDelete: boolean;
  acked: boolean;
}

export class KillReport {
  acked = 0;
  private buffered = '';
  private readonly byId = new Map<number, KillOp>();

  constructor(private readonly history: Map<string, KillOp[]>) {}

  /** Takes a chunk of the child's stdout; calls onLine with each full line's kind. */
  feed(chunk: Buffer, onLine?: (kind: string) => void): void {
    this.buffered += chunk.toString('latin1');
    let nl;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const [kind, key, idText, what] = line.split(' ');
      if (kind === 'I') {
        const op: KillOp = { id: Number(idText), isDelete: what === 'D', acked: false };
        this.byId.set(op.id, op);
        const ops = this.history.get(key!) ?? [];
        ops.push(op);
        this.history.set(key!, ops);
      } else if (kind === 'A') {
        const op = this.byId.get(Number(idText));
        if (op) {
          op.acked = true;
          this.acked++;
        }
      }
      if (kind !== undefined) onLine?.(kind);
    }
  }
}
