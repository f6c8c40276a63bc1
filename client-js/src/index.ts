// Bundle entry: esbuild exposes these exports as `window.Tether`.
import { autostart } from './boot';

export { start, reconnect, disconnect, pause, resume, navigateTo, invokeServer, registerFunction, send } from './boot';

autostart(document.currentScript);
