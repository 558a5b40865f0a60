// The module scripts/embed-wasm.mjs writes into dist/ at build: the zero-page scan's bytes, embedded.
/** The bytes of the zero-page scan module (build/scan.wasm), decoded afresh at each call. */
export declare function zeroScanWasm(): Uint8Array<ArrayBuffer>;
