// The upload module's wire names (docs/files.md), defined once for the browser; the server's are in
// runtime/src/upload.rs and runtime/src/circuit/protocol.rs.

/** The binding attribute of file inputs and drop zones. */
export const UPLOAD_ATTRIBUTE = 't-upload';
/** The DOM event that carries the chosen files to the event delegation (the `upload` event of protocol.ts). */
export const UPLOAD_EVENT = 'upload';
/**
 * Browser function the server calls to grant credit `(id, upTo, chunkBytes)`: send the file's bytes up to offset
 * `upTo` as `UploadChunk` messages of at most `chunkBytes`; answered once they are sent.
 */
export const UPLOAD_SEND = 'tether.upload.send';
/** Browser function the server calls to drop a file `(id)`. */
export const UPLOAD_CANCEL = 'tether.upload.cancel';
/** Hub method that carries one chunk, fire-and-forget: `(id, offset, base64)`. */
export const UPLOAD_CHUNK = 'UploadChunk';
