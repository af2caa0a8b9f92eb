/** Characters that generated tenant and region ids are made of, for the isolation properties. */
/**
 * Characters that break naive key schemes: the separators and braces of the format, the
 * escape character and hex digits after it, lookalikes (fullwidth colon and braces,
 * small colon, Cyrillic a, a combining accent), NUL and other controls, a lone
 * surrogate of each half, an astral character, and the characters left as they are.
 */
export const TRICKY_CHARS = [
  ':',
  '{',
  '}',
  '|',
  '/',
  ',',
  '=',
  '*',
  '%',
  '3',
  'A',
  'a',
  '7',
  'D',
  '-',
  '_',
  '.',
  ' ',
  '\0',
  '\n',
  '\uFF1A',
  '\uFF5B',
  '\uFF5D',
  '\uFE55',
  '\u0430',
  '\u0301',
  '\u200B',
  '\uD800',
  '\uDC00',
  '😀',
];

/**
 * The tricky characters a token's tenant may hold (src/auth/identity.ts refuses control
 * characters and lone surrogates), plus an accented letter: what end-to-end ids are made of.
 */
export const TOKEN_SAFE_CHARS = [
  ...TRICKY_CHARS.filter((c) => {
    const code = c.charCodeAt(0);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    const loneSurrogate = c.length === 1 && code >= 0xd800 && code <= 0xdfff;
    return !control && !loneSurrogate;
  }),
  'é',
];
