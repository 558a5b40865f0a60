/**
 * Compiling the constructors an attach runs when their module loads. V8 compiles a function at its
 * first call, which in a new worker is after the handle arrived, inside the attach it delays. A
 * parenthesized function is compiled when its module loads (design.md); a class constructor takes
 * no such hint, so each class an attach constructs is called once at load, in a way it refuses
 * before it makes anything, and V8 has compiled it by then.
 * @packageDocumentation
 */

/**
 * Calls `refused`, a construction that must throw before it makes anything (no token, no parts),
 * so that V8 compiles the constructor now.
 * @param refused - the refused construction
 * @throws Error when `refused` does not throw: a load must never make a stray object
 */
export function compileByRefusal(refused: () => unknown): void {
  try {
    refused();
  } catch {
    return;
  }
  throw new Error('compileByRefusal: the construction was not refused');
}
