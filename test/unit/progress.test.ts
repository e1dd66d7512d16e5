/** The import/export progress line: periodic plain lines off a terminal, a redrawn bar on one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Progress } from '../../src/cli/progress.js';

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { isTTY: boolean; text: string };
  w.isTTY = isTTY;
  w.text = '';
  return w;
}

test('off a terminal: one plain line per interval with count, rate, percentage and ETA', () => {
  let t = 0;
  const out = sink(false);
  const p = new Progress({ label: 'import', unit: 'lines', total: 10_000, out, logEveryMs: 5_000, now: () => t });
  for (let i = 1; i <= 4_000; i++) {
    t = i * 5; // 200 lines per second
    p.tick(i);
  }
  p.finish();
  const lines = out.text.trim().split('\n');
  assert.equal(lines.length, 4, `one line per 5 s of a 20 s run: ${out.text}`);
  assert.equal(lines[0], 'import: 1,000 lines  200/s  10.0%  ETA 45s');
  assert.equal(lines[3], 'import: 4,000 lines  200/s  40.0%  ETA 30s');
  assert.ok(!out.text.includes('\r'), 'no terminal control codes in logs');
});

test('on a terminal: the line is redrawn in place with a bar, and notes are not overdrawn', () => {
  let t = 0;
  const out = sink(true);
  const p = new Progress({ label: 'export', unit: 'events', total: 100, out, ttyEveryMs: 250, now: () => t });
  for (let i = 1; i <= 50; i++) {
    t = i * 10;
    p.tick();
  }
  assert.match(out.text, /\r\x1b\[2K\[#{12}\.{12}\] {2}export: 50 events {2}100\/s {2}50\.0% {2}ETA 1s$/);
  p.note('line 7: invalid: not JSON');
  assert.ok(out.text.endsWith('\r\x1b[2Kline 7: invalid: not JSON\n'));
  p.finish();
});

test('without a total: count and rate only', () => {
  let t = 0;
  const p = new Progress({ label: 'import', unit: 'lines', out: sink(false), now: () => t });
  t = 2_000;
  for (let i = 0; i < 10; i++) p.tick();
  assert.equal(p.line(2_000), 'import: 10 lines  5/s');
});
