"use strict";
/**
 * A latency histogram of integer nanoseconds in log-spaced buckets (16 per power of two, so a
 * bucket is at most 6.25% wide), plus exact count, sum, max and exact counts at or above fixed
 * thresholds. Constant memory whatever the number of samples; add() allocates nothing.
 */

const SUB_BITS = 4;
const SUB = 1 << SUB_BITS; // 16 buckets per octave
const BUCKETS = SUB + (32 - SUB_BITS) * SUB + 1; // 0..15 exact, then octaves 2^4..2^31, then overflow
const OVERFLOW = BUCKETS - 1;
/** Thresholds counted exactly (ns): 100 µs is the p99.9 target, 1 ms and 5 ms the report's columns. */
const THRESHOLDS = [10_000, 100_000, 1_000_000, 5_000_000];

function bucketOf(ns) {
  if (ns < SUB) return ns < 0 ? 0 : ns;
  if (ns >= 4294967296) return OVERFLOW;
  const e = 31 - Math.clz32(ns); // >= SUB_BITS
  const sub = (ns >>> (e - SUB_BITS)) & (SUB - 1);
  return SUB + (e - SUB_BITS) * SUB + sub;
}

/** [lower, upper) of bucket i, in ns. */
function boundsOf(i) {
  if (i < SUB) return [i, i + 1];
  if (i >= OVERFLOW) return [4294967296, Infinity];
  const e = ((i - SUB) >> SUB_BITS) + SUB_BITS;
  const sub = (i - SUB) & (SUB - 1);
  const width = 2 ** (e - SUB_BITS);
  const lower = (SUB + sub) * width;
  return [lower, lower + width];
}

class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.n = 0;
    this.sum = 0;
    this.max = 0;
    this.ge = new Float64Array(THRESHOLDS.length);
  }

  add(ns) {
    ns = Math.round(ns);
    this.counts[bucketOf(ns)]++;
    this.n++;
    this.sum += ns;
    if (ns > this.max) this.max = ns;
    if (ns >= 10_000) {
      this.ge[0]++;
      if (ns >= 100_000) {
        this.ge[1]++;
        if (ns >= 1_000_000) {
          this.ge[2]++;
          if (ns >= 5_000_000) this.ge[3]++;
        }
      }
    }
  }

  merge(other) {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    for (let i = 0; i < THRESHOLDS.length; i++) this.ge[i] += other.ge[i];
    this.n += other.n;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  /**
   * The value at quantile q (0..1): the upper bound of the bucket holding that rank, capped at
   * the exact max. So a reported percentile is at most 6.25% above the true one, never below.
   */
  quantile(q) {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(boundsOf(i)[1] - 1, this.max);
    }
    return this.max;
  }

  countAtLeast(ns) {
    const k = THRESHOLDS.indexOf(ns);
    if (k < 0) throw new RangeError(`no exact counter for ${ns} ns`);
    return this.ge[k];
  }

  summary() {
    return {
      n: this.n,
      meanNs: this.n ? this.sum / this.n : NaN,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      p9999: this.quantile(0.9999),
      max: this.max,
      ge10us: this.ge[0],
      ge100us: this.ge[1],
      ge1ms: this.ge[2],
      ge5ms: this.ge[3],
    };
  }

  toJSON() {
    const buckets = [];
    for (let i = 0; i < BUCKETS; i++) {
      if (this.counts[i] > 0) {
        const [lo, hi] = boundsOf(i);
        buckets.push([lo, hi, this.counts[i]]);
      }
    }
    return { n: this.n, sum: this.sum, max: this.max, thresholds: THRESHOLDS, ge: Array.from(this.ge), buckets, summary: this.summary() };
  }

  static fromJSON(j) {
    const h = new Histogram();
    h.n = j.n;
    h.sum = j.sum;
    h.max = j.max;
    h.ge = Float64Array.from(j.ge);
    for (const [lo, , c] of j.buckets) h.counts[bucketOf(lo)] += c;
    return h;
  }
}

module.exports = { Histogram, bucketOf, boundsOf, THRESHOLDS };
