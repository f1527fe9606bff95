/**
 * A deliberately small XML reader for the request bodies S3 clients send
 * (Delete, CompleteMultipartUpload, VersioningConfiguration,
 * CreateBucketConfiguration). It accepts elements, attributes (ignored),
 * text, the five predefined entities and numeric character references, and
 * nothing else: no DTD, no entity declarations, no CDATA, no processing
 * instructions other than the leading declaration. Anything outside that
 * answers MalformedXML, so entity expansion and external entities cannot
 * happen by construction.
 *
 * Lives here until the protocol layer's hardened parser (lib/gateway/xml/)
 * lands; `parseXml` and `XmlElement` are the whole interface.
 */
import { S3Error } from '../errors';

export interface XmlElement {
  /** Local name (namespace prefix dropped). */
  readonly name: string;
  readonly children: XmlElement[];
  /** Concatenated text content directly inside this element. */
  text: string;
}

const DEPTH_MAX = 16;
const ELEMENTS_MAX = 60_000;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9._:-]*$/;
const PREDEFINED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function malformed(why: string): S3Error {
  return new S3Error(
    'MalformedXML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}.`,
  );
}

function decodeText(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;]{0,10});?/g, (match, ref: string) => {
    if (!match.endsWith(';')) throw malformed('bare & in text');
    if (ref.startsWith('#x') || ref.startsWith('#X')) {
      const code = /^[0-9a-fA-F]{1,6}$/.test(ref.slice(2)) ? parseInt(ref.slice(2), 16) : NaN;
      if (!(code >= 0 && code <= 0x10ffff)) throw malformed(`bad character reference &${ref};`);
      return String.fromCodePoint(code);
    }
    if (ref.startsWith('#')) {
      const code = /^[0-9]{1,7}$/.test(ref.slice(1)) ? Number(ref.slice(1)) : NaN;
      if (!(code >= 0 && code <= 0x10ffff)) throw malformed(`bad character reference &${ref};`);
      return String.fromCodePoint(code);
    }
    const named = PREDEFINED[ref];
    if (named === undefined) throw malformed(`entity &${ref}; is not allowed`);
    return named;
  });
}

function localName(qualified: string): string {
  const colon = qualified.indexOf(':');
  return colon < 0 ? qualified : qualified.slice(colon + 1);
}

/** Parses one document; the root element is returned. */
export function parseXml(buffer: Buffer): XmlElement {
  let text = buffer.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skipSpace();
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) throw malformed('unterminated declaration');
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (stack.length > 0) stack[stack.length - 1]!.text += decodeText(chunk);
    else if (chunk.trim() !== '') throw malformed('text outside the root element');
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw malformed('unterminated comment');
      i = end + 3;
      continue;
    }
    if (text.startsWith('<!', i))
      throw malformed('DTDs, entity declarations and CDATA are not accepted');
    if (text.startsWith('<?', i)) throw malformed('processing instructions are not accepted');
    const gt = text.indexOf('>', i);
    if (gt < 0) throw malformed('unterminated tag');
    const tag = text.slice(i + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open === undefined || localName(name) !== open.name) {
        throw malformed(`unexpected closing tag </${name}>`);
      }
      if (stack.length === 0) root = open;
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const space = body.search(/\s/);
    const name = space < 0 ? body : body.slice(0, space);
    if (!NAME_RE.test(name)) throw malformed(`bad element name '${name}'`);
    if (root !== undefined) throw malformed('more than one root element');
    if (++elements > ELEMENTS_MAX) throw malformed('too many elements');
    if (stack.length >= DEPTH_MAX) throw malformed('nested too deeply');
    const element: XmlElement = { name: localName(name), children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
    if (selfClosing) {
      if (stack.length === 0) root = element;
    } else {
      stack.push(element);
    }
  }
  if (stack.length > 0 || root === undefined) throw malformed('the document is incomplete');
  return root;
}

/** The children of `parent` named `name`. */
export function childrenNamed(parent: XmlElement, name: string): XmlElement[] {
  return parent.children.filter((c) => c.name === name);
}

/** Text of the single child `name`, or undefined; MalformedXML when repeated. */
export function childText(parent: XmlElement, name: string): string | undefined {
  const found = childrenNamed(parent, name);
  if (found.length > 1) throw malformed(`<${name}> given more than once`);
  return found[0]?.text;
}

export function expectRoot(root: XmlElement, name: string): XmlElement {
  if (root.name !== name) throw malformed(`the root element must be <${name}>`);
  return root;
}
