// Bundle entry: esbuild exposes these exports as `window.Tether`.
import { autostart } from './boot';

export { start, reconnect, disconnect, invokeServer, registerFunction } from './boot';

autostart(document.currentScript);
