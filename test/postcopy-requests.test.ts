// The postcopy return path of the simulator, one step at a time: a vCPU's request whose page the
// background stream sends before the source takes it is still taken, as QEMU's source reads every
// request off the return path (before this, the vCPU's next request replaced it in its mailbox and
// the source counted one request fewer than the destination made: seen once as 49 of 50).
import { describe, expect, it } from 'vitest';
import { definePostcopyStats } from '../dist/index.js';
import { beginFault, claimPage, createPostcopyShared, landPage, NO_REQUEST, PAGE, PAGE_ALREADY_SENT, takeRequest } from '../dist/simulate/postcopy.js';

/** A shared state whose pages are all missing and still to send, as at the postcopy switch. */
function atSwitch(pages: number, vcpus: number) {
  const shared = createPostcopyShared(pages, vcpus);
  for (let page = 0; page < pages; page++) {
    Atomics.store(shared.state, page, PAGE.MISSING);
    Atomics.or(shared.toSend, page >>> 5, 1 << (page & 31));
  }
  return shared;
}

/** Every request the source can take now. */
function takeAll(shared: ReturnType<typeof createPostcopyShared>): number[] {
  const taken: number[] = [];
  for (let page = takeRequest(shared); page !== NO_REQUEST; page = takeRequest(shared)) taken.push(page);
  return taken;
}

describe('the postcopy return path', () => {
  it('gives the source each request once, a page it takes before the stream sends it', async () => {
    const shared = atSwitch(8, 2);
    const stats = await definePostcopyStats(2).create();
    expect(beginFault(shared, stats, 0, 3)).toBe(true);
    expect(beginFault(shared, stats, 1, 5)).toBe(true);
    expect(takeAll(shared).sort()).toEqual([3, 5]);
    expect(takeAll(shared)).toEqual([]);
  });

  it('keeps a request whose page the stream sent first, when the vCPU asks for its next page', async () => {
    const shared = atSwitch(8, 1);
    const stats = await definePostcopyStats(1).create();
    expect(beginFault(shared, stats, 0, 3)).toBe(true);
    // The background stream sends page 3 before the source looks at the return path.
    expect(claimPage(shared, 3)).toBe(true);
    landPage(shared, stats, 3);
    // The vCPU goes on and faults on page 6: its mailbox still holds the request for page 3.
    expect(beginFault(shared, stats, 0, 6)).toBe(true);
    const taken = takeAll(shared);
    // Two requests made, two taken: one for a page already sent, one to serve.
    expect(taken.sort()).toEqual([PAGE_ALREADY_SENT, 6].sort());
    expect(Array.from(shared.requests).reduce((a, b) => a + b, 0)).toBe(taken.length);
    expect(takeAll(shared)).toEqual([]);
  });
});
