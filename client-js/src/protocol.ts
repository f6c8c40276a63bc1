// The wire contract of docs/protocol.md, written down once for the browser side. Every other module takes its
// message types, opcodes, markers and method names from here, so a protocol change is a change to this file.

/** Sent in `StartCircuit`; the server refuses a version it does not speak. */
export const PROTOCOL_VERSION = 4;

/**
 * How long a render acknowledgement may wait for the next message to ride with (section 4): most batches
 * answer an event, and the user's next event carries the ack in its frame, so the server reads one frame per
 * event instead of two.
 */
export const ACK_DELAY_MS = 2000;

/** Ends every JSON hub message (section 5). */
export const RECORD_SEPARATOR = '\x1e';

/** The hub handshake request for the JSON protocol. */
export const HANDSHAKE_REQUEST = { protocol: 'json', version: 1 };

/** Hub message types (section 5). */
export const enum MessageType {
  Invocation = 1,
  StreamItem = 2,
  Completion = 3,
  StreamInvocation = 4,
  CancelInvocation = 5,
  Ping = 6,
  Close = 7,
  Ack = 8,
  Sequence = 9,
}

/** Render batch edit opcodes (section 4). */
export const enum Op {
  InsertBefore = 1,
  Append = 2,
  Remove = 3,
  MoveBefore = 4,
  MoveToEnd = 5,
  SetAttribute = 6,
  RemoveAttribute = 7,
  SetText = 8,
  SetProperty = 9,
  ReplaceRaw = 10,
  AttachRoot = 11,
}

/** Comment data of the page markers (section 2), without the `<!--` `-->` delimiters. */
export const MARKER_ROOT_PREFIX = 't:r:';
export const MARKER_COMPONENT = 't:c';
export const MARKER_RAW = 't:raw';
export const MARKER_END = '/t';
/** Any range start begins with this; `/t` never does. */
export const MARKER_START_PREFIX = 't:';

/** Attribute prefixes the server writes on elements. */
export const EVENT_ATTRIBUTE_PREFIX = 't-';
export const DEBOUNCE_ATTRIBUTE = 't-debounce';
export const THROTTLE_ATTRIBUTE = 't-throttle';

/** Events the server can bind (attribute `t-<event>`). */
export const EVENT_NAMES = [
  'click', 'dblclick', 'mousedown', 'mouseup', 'mouseenter', 'mouseleave', 'mousemove', 'contextmenu',
  'input', 'change', 'submit', 'keydown', 'keyup', 'keypress', 'focus', 'blur', 'scroll', 'upload',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** Circuit hub methods, browser to server (section 6). */
export const enum ServerMethod {
  StartCircuit = 'StartCircuit',
  ConnectCircuit = 'ConnectCircuit',
  DispatchEvent = 'DispatchEvent',
  OnRenderCompleted = 'OnRenderCompleted',
  InvokeServer = 'InvokeServer',
  EndInvokeJS = 'EndInvokeJS',
  LocationChanged = 'LocationChanged',
  Chunked = 'Chunked',
  ResumeCircuit = 'ResumeCircuit',
  PauseCircuit = 'PauseCircuit',
}

/** Circuit hub methods, server to browser (section 6). */
export const enum ClientMethod {
  Batch = 'T.Batch',
  Error = 'T.Error',
  InvokeJS = 'T.InvokeJS',
  EndInvokeServer = 'T.EndInvokeServer',
  Navigate = 'T.Navigate',
  Persisted = 'T.Persisted',
}

/** Default path of the circuit hub, used when the boot script was not loaded from `{hub}/tether.js`. */
export const DEFAULT_HUB_PATH = '/_tether';
/** The boot script's file name; a script served as `{hub}/tether.js` finds its hub next to itself. */
export const BOOT_SCRIPT_NAME = 'tether.js';
/** Appended to the hub URL for the disconnect beacon (section 8). */
export const DISCONNECT_PATH = '/disconnect';

/** The hub's default message limit; larger calls travel as `Chunked` streams. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
/** Largest string item of a `Chunked` stream. */
export const CHUNK_CHARS = 16000;

/** One render batch as it arrives in `T.Batch` (section 4): its edits, in application order. */
export type RenderBatch = Edit[];

/** An edit: the opcode first, then its operands. */
export type Edit = [Op, ...unknown[]];

/** Any hub message after the handshake, as parsed JSON. */
export interface HubMessage {
  type: MessageType;
  invocationId?: string;
  target?: string;
  arguments?: unknown[];
  streamIds?: string[];
  item?: unknown;
  result?: unknown;
  error?: string;
  allowReconnect?: boolean;
  sequenceId?: number;
}
