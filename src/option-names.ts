/**
 * Refuses option names that a function does not take, so that a misspelt name is an error rather
 * than a default silently left in force.
 * @packageDocumentation
 */

/**
 * Checks that every own key of `options` is one of `allowed`.
 * @param where - the call, e.g. `new MigrationWindow`
 * @param what - how the object is called in messages, e.g. `options` or `context`
 * @param options - the caller's object (already known to be an object)
 * @param allowed - the names the call takes
 * @throws TypeError naming the first unknown key and every allowed one
 */
export function checkOptionNames(where: string, what: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${where}: ${what}.${key} is not an option; the options are ${allowed.join(', ')}`);
    }
  }
}
