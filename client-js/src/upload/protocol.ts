// The upload module's wire names (docs/files.md), defined once for the browser; the server's are in
// runtime/src/upload.rs.

/** The binding attribute of file inputs and drop zones. */
export const UPLOAD_ATTRIBUTE = 't-upload';
/** The DOM event that carries the chosen files to the event delegation (the `upload` event of protocol.ts). */
export const UPLOAD_EVENT = 'upload';
/** Browser function the server calls to pull `(id, offset, length)`; answers base64. */
export const UPLOAD_READ = 'tether.upload.read';
/** Browser function the server calls to drop a file `(id)`. */
export const UPLOAD_CANCEL = 'tether.upload.cancel';
