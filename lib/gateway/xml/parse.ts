/**
 * A small strict XML parser for the four request bodies S3 clients send
 * (CompleteMultipartUpload, Delete, VersioningConfiguration,
 * CreateBucketConfiguration).
 *
 * Why not a general parser: these documents are tiny and flat, and the
 * dangerous parts of XML (DTDs, entity declarations and their expansion,
 * external references) are exactly what we must refuse. A hand parser that
 * knows only elements, attributes, text, CDATA, comments and the five
 * predefined plus numeric character references has no code path that could
 * expand anything, runs in linear time, and caps size and depth up front.
 */
import { isUtf8 } from 'node:buffer';
import { S3Error } from '../errors';

/** Largest XML request body accepted (a 1000-key Delete with long keys fits). */
export const xml_body_bytes_max = 1024 * 1024;
/** Deepest element nesting accepted; S3's request documents use 3. */
export const xml_depth_max = 16;

export interface XmlElement {
  /** Local name, without any namespace prefix. */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** Concatenated character data directly inside the element. */
  text: string;
}

const NAME_RE = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const PREDEFINED: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

function malformed(detail: string): S3Error {
  return new S3Error(
    'MalformedXML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${detail}.`,
  );
}

function localName(qualified: string): string {
  const colon = qualified.indexOf(':');
  return colon < 0 ? qualified : qualified.slice(colon + 1);
}

/** Replaces character and predefined entity references; anything else is refused. */
function decodeText(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&]{0,10});?/g, (match, ref: string) => {
    if (!match.endsWith(';')) throw malformed('an unterminated entity reference');
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const digits = ref[1] === 'x' ? /^#x[0-9A-Fa-f]{1,6}$/ : /^#[0-9]{1,7}$/;
      if (
        !digits.test(ref) ||
        code === 0 ||
        code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff)
      ) {
        throw malformed(`an invalid character reference '&${ref};'`);
      }
      return String.fromCodePoint(code);
    }
    const named = PREDEFINED[ref];
    if (named === undefined)
      throw malformed(`an undefined entity '&${ref};' (entities are not supported)`);
    return named;
  });
}

/** Parses one XML document; refuses DTDs, entity declarations and oversize or deep input. */
export function parseXml(body: Buffer | string): XmlElement {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  if (size > xml_body_bytes_max) {
    throw new S3Error(
      'MaxMessageLengthExceeded',
      `Your request was too large: XML bodies are capped at ${xml_body_bytes_max} bytes.`,
    );
  }
  if (typeof body !== 'string' && !isUtf8(body)) throw malformed('the body is not UTF-8');
  let text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<!NOTATION/i.test(text)) {
    throw malformed('DTDs and entity declarations are not allowed');
  }

  let pos = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const skipSpace = () => {
    while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++;
  };
  const readName = (): string => {
    NAME_RE.lastIndex = pos;
    const m = NAME_RE.exec(text);
    if (m === null) throw malformed(`a name was expected at offset ${pos}`);
    pos += m[0].length;
    return m[0];
  };
  const expectClose = (terminator: string, what: string): number => {
    const end = text.indexOf(terminator, pos);
    if (end < 0) throw malformed(`an unterminated ${what}`);
    return end;
  };

  if (text.startsWith('<?xml')) {
    const end = expectClose('?>', 'XML declaration');
    if (!/^<\?xml(\s+[a-z]+\s*=\s*("[^"]*"|'[^']*'))*\s*$/.test(text.slice(0, end)))
      throw malformed('a bad XML declaration');
    pos = end + 2;
  }

  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    const chunk = lt < 0 ? text.slice(pos) : text.slice(pos, lt);
    if (chunk.length > 0) {
      const current = stack[stack.length - 1];
      if (current === undefined) {
        if (chunk.trim() !== '') throw malformed('text outside the root element');
      } else {
        current.text += decodeText(chunk);
      }
    }
    if (lt < 0) break;
    pos = lt;
    if (text.startsWith('<!--', pos)) {
      const end = expectClose('-->', 'comment');
      pos = end + 3;
    } else if (text.startsWith('<![CDATA[', pos)) {
      const current = stack[stack.length - 1];
      if (current === undefined) throw malformed('CDATA outside the root element');
      const end = text.indexOf(']]>', pos);
      if (end < 0) throw malformed('an unterminated CDATA section');
      current.text += text.slice(pos + 9, end);
      pos = end + 3;
    } else if (text.startsWith('<!', pos) || text.startsWith('<?', pos)) {
      throw malformed('declarations and processing instructions are not allowed');
    } else if (text.startsWith('</', pos)) {
      pos += 2;
      const name = readName();
      skipSpace();
      if (text[pos] !== '>') throw malformed(`a bad end tag </${name}`);
      pos++;
      const open = stack.pop();
      if (open === undefined || localName(name) !== open.name) {
        throw malformed(`</${name}> does not close <${open?.name ?? ''}>`);
      }
    } else {
      pos++;
      const name = localName(readName());
      const attributes: Record<string, string> = {};
      for (;;) {
        const before = pos;
        skipSpace();
        if (text.startsWith('/>', pos) || text[pos] === '>') break;
        if (pos === before) throw malformed(`a bad start tag <${name}`);
        const attr = readName();
        skipSpace();
        if (text[pos] !== '=') throw malformed(`attribute ${attr} has no value`);
        pos++;
        skipSpace();
        const quote = text[pos];
        if (quote !== '"' && quote !== "'") throw malformed(`attribute ${attr} is not quoted`);
        const end = text.indexOf(quote, pos + 1);
        if (end < 0) throw malformed(`attribute ${attr} is not terminated`);
        const value = text.slice(pos + 1, end);
        if (value.includes('<')) throw malformed(`attribute ${attr} contains '<'`);
        if (Object.prototype.hasOwnProperty.call(attributes, attr))
          throw malformed(`attribute ${attr} is repeated`);
        attributes[attr] = decodeText(value);
        pos = end + 1;
      }
      const element: XmlElement = { name, attributes, children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent !== undefined) parent.children.push(element);
      else if (root !== undefined) throw malformed('more than one root element');
      else root = element;
      if (text.startsWith('/>', pos)) {
        pos += 2;
      } else {
        pos++;
        stack.push(element);
        if (stack.length > xml_depth_max)
          throw malformed(`elements nested deeper than ${xml_depth_max}`);
      }
    }
  }
  if (stack.length > 0) throw malformed(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (root === undefined) throw malformed('the document is empty');
  return root;
}

/** The children of `parent` named `name`. */
export function childrenNamed(parent: XmlElement, name: string): XmlElement[] {
  return parent.children.filter((c) => c.name === name);
}

/** The single child named `name`; refuses repeats, and absence when `required`. */
export function childNamed(parent: XmlElement, name: string, required: true): XmlElement;
export function childNamed(
  parent: XmlElement,
  name: string,
  required?: boolean,
): XmlElement | undefined;
export function childNamed(
  parent: XmlElement,
  name: string,
  required = false,
): XmlElement | undefined {
  const found = childrenNamed(parent, name);
  if (found.length > 1) throw malformed(`<${name}> appears more than once in <${parent.name}>`);
  if (found.length === 0 && required) throw malformed(`<${parent.name}> needs a <${name}>`);
  return found[0];
}

export { malformed as malformedXml };
