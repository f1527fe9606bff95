import { strict as assert } from 'node:assert';
import { median, percentile, summarize } from '../bench/lib/stats';

describe('01 bench harness: the statistics behind every table', () => {
  it('percentile uses nearest rank on an unsorted sample', () => {
    const sample = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
    assert.equal(percentile(sample, 50), 5);
    assert.equal(percentile(sample, 90), 9);
    assert.equal(percentile(sample, 99), 10);
    assert.equal(percentile(sample, 0), 1);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('median of odd and even samples', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it('summarize gives median and range over runs, and percentiles over all samples', () => {
    const summary = summarize([
      { ops: 100, bytes: 1024 * 1024, seconds: 1, latenciesUs: [1, 2, 3], extra: { rss: 10 } },
      { ops: 300, bytes: 3 * 1024 * 1024, seconds: 1, latenciesUs: [4, 5, 6], extra: { rss: 30 } },
      {
        ops: 200,
        bytes: 2 * 1024 * 1024,
        seconds: 1,
        latenciesUs: [7, 8, 9, 10],
        extra: { rss: 20 },
      },
    ]);
    assert.deepEqual(summary.opsPerSec, { median: 200, min: 100, max: 300 });
    assert.deepEqual(summary.mibPerSec, { median: 2, min: 1, max: 3 });
    assert.deepEqual(summary.latencyUs, { p50: 5, p90: 9, p99: 10, p999: 10 });
    assert.equal(summary.extra.rss, 20);
    assert.equal(summary.runs, 3);
  });
});
