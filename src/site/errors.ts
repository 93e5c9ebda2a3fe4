// A failure of a Site call: the code callers act on (the engine's and the
// store's codes, CANCELLED, TIMEOUT...), the message as DS CLI users read it,
// and which entry of the request was refused. Built from plain data alone,
// so a remote site can send it and the client rebuild it exactly.

export interface SiteErrorData {
  code: string;
  message: string;
  item?: number; // index of the refused entry of the request's list
  option?: string; // the option (without "-") whose value was refused
  bytesWritten?: number; // a write that failed part-way reached the volume this far
}

export class SiteError extends Error {
  override readonly name = "SiteError";
  readonly code: string;
  readonly item?: number;
  readonly option?: string;
  readonly bytesWritten?: number;

  constructor(data: SiteErrorData) {
    super(data.message);
    this.code = data.code;
    if (data.item !== undefined) this.item = data.item;
    if (data.option !== undefined) this.option = data.option;
    if (data.bytesWritten !== undefined) this.bytesWritten = data.bytesWritten;
  }

  toData(): SiteErrorData {
    const data: SiteErrorData = { code: this.code, message: this.message };
    if (this.item !== undefined) data.item = this.item;
    if (this.option !== undefined) data.option = this.option;
    if (this.bytesWritten !== undefined) data.bytesWritten = this.bytesWritten;
    return data;
  }
}

export function isSiteError(error: unknown): error is SiteError {
  return error instanceof SiteError;
}
