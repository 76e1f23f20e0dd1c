// Where the unit tests find the client's modules: they import the very files the server embeds.
export const ui = (file) => new URL(`../../../crates/confab-server/ui/${file}`, import.meta.url).href;
