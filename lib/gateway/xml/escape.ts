/**
 * XML text escaping for S3 response bodies.
 *
 * S3 keys may hold any UTF-8, including control characters that XML 1.0
 * cannot carry literally. We write every C0 control as a character reference
 * (`&#xD;`, `&#x1;`), as AWS does, so CR/LF survive XML end-of-line
 * normalisation in the client's parser; clients that need exact bytes ask for
 * `encoding-type=url`.
 */

const NAMED: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[&<>"'\u0000-\u0008\u000a-\u001f\u007f]/g;

/** Escapes text for use in element content or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(NEEDS_ESCAPE, (ch) => {
    const named = NAMED[ch];
    if (named !== undefined) return named;
    return `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`;
  });
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** One element with escaped text content; `undefined` values are omitted. */
export function textElement(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}
