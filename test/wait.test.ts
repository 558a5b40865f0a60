// The suite's waiting helpers (test/wait.ts, test/workers.ts): each ends on its event, and fails at
// once, saying what it waited for, when what it waits on fails. Children here write when told to
// on stdin, so that nothing depends on when a line comes.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { start, stop } from './tools.js';
import { poll, waitForEvent, waitForJsonLine, waitForOutput } from './wait.js';
import { startFixture, untilShared } from './workers.js';

/** A Node child that writes each line it reads on stdin back to stdout as it is, and exits on "exit N". */
function echo() {
  const script = `
    let text = '';
    process.stdin.on('data', (chunk) => {
      text += chunk;
      for (let at; (at = text.indexOf('\\n')) >= 0; text = text.slice(at + 1)) {
        const line = text.slice(0, at);
        if (line.startsWith('exit ')) process.exit(Number(line.slice(5)));
        process.stdout.write(line.replaceAll('\\\\n', '\\n'));
      }
    });`;
  return start(process.execPath, ['-e', script]);
}

describe('waitForOutput and waitForJsonLine', () => {
  it('resolve on the line when it comes, and take only whole lines', async () => {
    const program = echo();
    try {
      const port = waitForJsonLine(program, 'the port', 'port');
      let settled = false;
      void port.finally(() => (settled = true));
      // Half a line: not yet (the other JSON line has no "port").
      program.child.stdin!.write('{"other":1}\\n{"port":\n');
      await waitForOutput(program.child, program.output, 'the half line', (text) => (text.endsWith('{"port":') ? true : undefined));
      expect(settled).toBe(false);
      program.child.stdin!.write('8080}\\n\n');
      expect(await port).toEqual({ port: 8080 });
      // A line already written is found at once.
      expect(await waitForJsonLine(program, 'the other line', 'other')).toEqual({ other: 1 });
    } finally {
      await stop(program.child);
    }
  });

  it('fail at once with the output when the program ends without the line', async () => {
    const program = echo();
    const line = waitForJsonLine(program, 'the done line', 'done');
    program.child.stdin!.write('{"started":true}\\n\n');
    program.child.stdin!.write('exit 3\n');
    await expect(line).rejects.toThrow(/^the done line: the program ended \(code 3, signal null\) without it; its output: \{"started":true\}\n$/);
    // And a wait that begins after the end fails the same way.
    await expect(waitForJsonLine(program, 'a late wait', 'done')).rejects.toThrow(/^a late wait: the program ended \(code 3/);
  });
});

describe('waitForEvent', () => {
  it('resolves with the arguments of the first event it accepts', async () => {
    const emitter = new EventEmitter();
    const waited = waitForEvent<[number, string]>(emitter, 'message', 'the second message', { accept: (n) => n === 2 });
    emitter.emit('message', 1, 'one');
    emitter.emit('message', 2, 'two');
    expect(await waited).toEqual([2, 'two']);
    expect(emitter.listenerCount('message')).toBe(0);
  });

  it("rejects with an error event's error, or names the event that came first", async () => {
    const failing = new EventEmitter();
    const first = waitForEvent(failing, 'message', 'a message');
    const error = new TypeError('broken');
    failing.emit('error', error);
    await expect(first).rejects.toBe(error);
    const exiting = new EventEmitter();
    const second = waitForEvent(exiting, 'message', 'a message');
    exiting.emit('exit', 3);
    await expect(second).rejects.toThrow("a message: 'exit' (3) came first");
  });
});

describe('startFixture and untilShared', () => {
  it('fail at once when a worker exits before it reports', async () => {
    const { result } = startFixture('exiting-worker.mjs');
    await expect(result).rejects.toThrow("the first message of exiting-worker.mjs: 'exit' (3) came first");
    await expect(untilShared(() => false, [result])).rejects.toThrow(/exiting-worker\.mjs: 'exit' \(3\)/);
  });
});

describe('poll', () => {
  it('asks until the probe answers, counting a throw as "not yet"', async () => {
    let asked = 0;
    const answer = await poll('the third answer', async () => {
      asked++;
      if (asked === 1) throw new Error('not listening');
      return asked === 3 ? 'ready' : undefined;
    }, { pauseMs: 0 });
    expect([answer, asked]).toEqual(['ready', 3]);
  });

  it('gives up at once when stop() gives a reason, and at its limit, with the last thing seen', async () => {
    await expect(poll('a server', async () => { throw new Error('refused'); }, { stop: () => 'it exited with 1' })).rejects.toThrow(
      'a server: gave up, it exited with 1; last: refused',
    );
    await expect(poll('a server', async () => undefined, { limitMs: 0 })).rejects.toThrow(
      /^a server: still not there after 1 tries over 0 s \(a hang: this limit is a safety net\); last: not yet$/,
    );
  });
});
