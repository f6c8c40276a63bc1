/** The minified default CSS of the built-in reconnect dialog, inlined by client-js/build.mjs. */
declare const __TETHER_CSS__: string;
/** The minified default CSS of the error bar (assets/tether-error.css), inlined by client-js/build.mjs. */
declare const __TETHER_ERROR_CSS__: string;
