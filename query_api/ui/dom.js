// Building the pages from data: elements, attributes and text nodes, never HTML parsed from a
// string, so nothing an interaction holds can become markup or script. Styles that depend on data
// (a channel's colour, a bar's width) go through element.style, which the Content-Security-Policy
// allows; a style attribute would be refused.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value === true ? "" : String(value));
  }
  // strings become text nodes; null, undefined and false are left out
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** An HTML element with `attrs` and `children` (nodes, or strings as text). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}
