import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The reference fixtures, kept in the repository (test/fixtures/README.md says how they are made). */
export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url)).replace(/\/$/, '');
