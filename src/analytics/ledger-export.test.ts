/**
 * CSV cells a spreadsheet would evaluate are defused, including the forms that hide the formula
 * leader behind blanks, control characters or a full-width sign ([hardening] 13).
 */
import { describe, expect, it } from 'vitest';
import { csvField } from './ledger-export.js';

describe('CSV formula neutralisation', () => {
  it.each([
    '=1+1',
    '+1+1',
    '-1+1',
    '@SUM(A1)',
    '\t=1+1',
    '\r=1+1',
    ' =1+1',
    '   +cmd',
    '\n=1+1',
    '\u0000=1+1',
    '\u200b=1+1',
    '\u00a0=1+1',
    '\uff1d1+1',
    '\uff0b1+1',
    '\uff0d1+1',
    '\uff201+1',
    ' \uff1d1+1',
  ])('prefixes %j with a quote', (text) => {
    const cell = csvField(text, true);
    const unquoted = cell.startsWith('"') ? cell.slice(1, -1).replaceAll('""', '"') : cell;
    expect(unquoted).toBe(`'${text}`);
  });

  it.each(['alice', "O'Brien", 'a=b', '1+1', ' x', '\uff21bc'])('leaves %j as it is', (text) => {
    expect(csvField(text, true)).toBe(text);
  });

  it('quotes the defused cell when it holds a line break', () => {
    expect(csvField('\n=1+1', true)).toBe(`"'\n=1+1"`);
  });

  it('leaves numbers and generated columns alone', () => {
    expect(csvField(-5)).toBe('-5');
    expect(csvField('-5')).toBe('-5');
  });
});
