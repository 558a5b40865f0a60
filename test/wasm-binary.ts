/**
 * A small reader of WebAssembly binaries for tests: the sections, the exported functions with their
 * value types and the exported globals with their mutability, read from the bytes themselves (not
 * from anything the compiler or the build wrote about them).
 */

/** Value types by their binary code. */
const VALUE_TYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128' };

/** An exported function: its parameter and result types (`i32`, `i64`, `f64`, …). */
export interface FunctionExport {
  readonly params: readonly string[];
  readonly results: readonly string[];
}

/** What a module is made of. */
export interface WasmParts {
  /** Section ids in order (1 type, 2 import, 3 function, 6 global, 7 export, 8 start, 10 code, 11 data). */
  readonly sectionIds: readonly number[];
  readonly functions: ReadonlyMap<string, FunctionExport>;
  /** Exported globals: their value type and whether they are mutable. */
  readonly globals: ReadonlyMap<string, { readonly type: string; readonly mutable: boolean }>;
}

/** Reads a module's sections. Only the parts above are decoded; the rest is skipped by size. */
export function readWasm(bytes: Uint8Array): WasmParts {
  let i = 8;
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[i++]!;
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return result >>> 0;
  };
  const name = (): string => {
    const length = leb();
    const text = new TextDecoder().decode(bytes.subarray(i, i + length));
    i += length;
    return text;
  };
  const types: FunctionExport[] = [];
  const functionTypes: number[] = [];
  const globalTypes: { type: string; mutable: boolean }[] = [];
  let importedFunctions = 0;
  const exports: { name: string; kind: number; index: number }[] = [];
  const sectionIds: number[] = [];
  while (i < bytes.length) {
    const id = bytes[i++]!;
    const size = leb();
    const end = i + size;
    sectionIds.push(id);
    if (id === 1) {
      for (let n = leb(); n > 0; n--) {
        i++; // 0x60: a function type
        const params = Array.from({ length: leb() }, () => VALUE_TYPES[bytes[i++]!]!);
        const results = Array.from({ length: leb() }, () => VALUE_TYPES[bytes[i++]!]!);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        name();
        name();
        const kind = bytes[i++]!;
        if (kind === 0) {
          leb();
          importedFunctions++;
        } else if (kind === 2) {
          const flags = bytes[i++]!;
          leb();
          if (flags & 1) leb();
        } else {
          throw new Error(`readWasm: import kind ${kind} is not decoded`);
        }
      }
    } else if (id === 3) {
      for (let n = leb(); n > 0; n--) functionTypes.push(leb());
    } else if (id === 6) {
      for (let n = leb(); n > 0; n--) {
        const type = VALUE_TYPES[bytes[i++]!]!;
        const mutable = bytes[i++] === 1;
        globalTypes.push({ type, mutable });
        while (bytes[i++] !== 0x0b); // the constant initialiser, up to its `end`
      }
    } else if (id === 7) {
      for (let n = leb(); n > 0; n--) exports.push({ name: name(), kind: bytes[i++]!, index: leb() });
    }
    i = end;
  }
  const functions = new Map<string, FunctionExport>();
  const globals = new Map<string, { type: string; mutable: boolean }>();
  for (const e of exports) {
    if (e.kind === 0) functions.set(e.name, types[functionTypes[e.index - importedFunctions]!]!);
    if (e.kind === 3) globals.set(e.name, globalTypes[e.index]!);
  }
  return { sectionIds, functions, globals };
}
