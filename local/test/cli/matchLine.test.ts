import { describe, expect, it } from 'vitest';
import { matchLine } from '../../src/cli/ingest.js';

describe('the CLI summary of a new upload\'s matches', () => {
  it('totals open, new and closed records and lists open ones by other state', () => {
    expect(matchLine([
      { state: 'NJ', matches: 25, new: 20, closed: 0 },
      { state: 'NY', matches: 40, new: 40, closed: 2 },
      { state: 'OH', matches: 0, new: 0, closed: 7 },
    ])).toBe('65 open (60 new, 9 closed) with NJ 25, NY 40');
  });

  it('says so when no other state shares a hash', () => {
    expect(matchLine([])).toBe("0 open (0 new, 0 closed): no other state's active upload shares a hash");
  });
});
