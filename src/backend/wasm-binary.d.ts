// The module scripts/embed-wasm.mjs writes into dist/ at build: the release core's bytes, embedded.
/** The bytes of the Wasm core (build/release.wasm), decoded afresh at each call. */
export declare function statsCoreWasm(): Uint8Array<ArrayBuffer>;
