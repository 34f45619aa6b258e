import { describe, expect, it } from 'vitest';
import { LruMap } from '../../server/lru-map.js';

describe('LruMap', () => {
  it('drops the least recently used entry past its capacity', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    expect([map.get('a'), map.get('b'), map.get('c'), map.size]).toEqual([undefined, 2, 3, 2]);
  });

  it('counts a read or a new value as a use', () => {
    const read = new LruMap<string, number>(2);
    read.set('a', 1);
    read.set('b', 2);
    read.get('a');
    read.set('c', 3);
    expect([read.get('a'), read.get('b')]).toEqual([1, undefined]);

    const rewritten = new LruMap<string, number>(2);
    rewritten.set('a', 1);
    rewritten.set('b', 2);
    rewritten.set('a', 10);
    rewritten.set('c', 3);
    expect([rewritten.get('a'), rewritten.get('b'), rewritten.size]).toEqual([10, undefined, 2]);
  });

  it('empties on clear and refuses a capacity below one', () => {
    const map = new LruMap<string, number>(3);
    map.set('a', 1);
    map.clear();
    expect([map.get('a'), map.size]).toEqual([undefined, 0]);
    expect(() => new LruMap(0)).toThrow(RangeError);
    expect(() => new LruMap(Number.NaN)).toThrow(RangeError);
  });
});
