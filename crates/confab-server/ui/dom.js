// The few DOM helpers every view uses. User text only ever goes in through text nodes (`h` children,
// textContent), never through innerHTML, so markup in a message or a name stays text.

/** Builds an element. Strings among `children` become text nodes. `on*` attributes take functions. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key === 'style') node.style.cssText = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child != null && child !== false) node.append(child);
  return node;
}

export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

/** Sets a message element's text and hides it when there is none. */
export function showText(node, text) {
  if (!node) return;
  node.textContent = text || '';
  node.hidden = !text;
}

/**
 * Makes `parent`'s children exactly `nodes`, in order, moving as little as possible: nodes already in place
 * stay put, so focus inside them and the reader's scroll position survive a re-render.
 */
export function reconcile(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    parent.insertBefore(node, cursor);
  }
}
