// JSON hub protocol framing: each message is JSON text followed by the record separator; one transport frame
// may carry several messages, and the handshake answer arrives first, possibly in the same frame as the first
// messages after it.
import { RECORD_SEPARATOR, type HubMessage } from './protocol';

/** Encodes one message with its separator. */
export function frame(message: object): string {
  return JSON.stringify(message) + RECORD_SEPARATOR;
}

/**
 * Splits received text into complete JSON messages. Text after the last separator is an incomplete message:
 * it is returned as `rest` for the caller to prepend to the next frame.
 */
export function parseFrames(text: string): { messages: unknown[]; rest: string } {
  const parts = text.split(RECORD_SEPARATOR);
  const rest = parts.pop() ?? '';
  return { messages: parts.map((p) => JSON.parse(p) as unknown), rest };
}

/** Checks the shape every message after the handshake must have. */
export function asHubMessage(value: unknown): HubMessage {
  if (typeof (value as HubMessage | null)?.type !== 'number') {
    throw new Error(`invalid hub message: ${JSON.stringify(value)}`);
  }
  return value as HubMessage;
}

/** Reads the handshake answer: `{}` on success, or throws with the server's `error`. */
export function checkHandshakeResponse(value: unknown): void {
  if (typeof value !== 'object' || value === null) throw new Error(`invalid handshake response: ${JSON.stringify(value)}`);
  const error = (value as { error?: unknown }).error;
  if (error !== undefined) throw new Error(`server refused the handshake: ${String(error)}`);
}

/**
 * An Invocation message around arguments already encoded as JSON: a call's arguments are stringified once,
 * measured against the message limit, and sent as that same text.
 */
export function invocationFrame(target: string, argsJson: string, invocationId?: string, streamIds?: string[]): string {
  const id = invocationId === undefined ? '' : `"invocationId":${JSON.stringify(invocationId)},`;
  const streams = streamIds ? `,"streamIds":${JSON.stringify(streamIds)}` : '';
  return `{"type":1,${id}"target":${JSON.stringify(target)},"arguments":${argsJson}${streams}}${RECORD_SEPARATOR}`;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(0);

/**
 * Whether `text` is at most `max` bytes in UTF-8; short text (at most 3 bytes per UTF-16 unit) needs no encoding.
 * Longer text is encoded into a reused buffer of `max` bytes, which it fits when all of it was read.
 */
export function fitsUtf8(text: string, max: number): boolean {
  if (text.length * 3 <= max) return true;
  if (text.length > max) return false;
  if (scratch.length < max) scratch = new Uint8Array(max);
  return encoder.encodeInto(text, scratch.subarray(0, max)).read === text.length;
}

/**
 * Splits text into pieces of at most `max` UTF-16 units without cutting a surrogate pair, so each piece is
 * valid UTF-8 on its own.
 */
export function chunkText(text: string, max: number): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}
