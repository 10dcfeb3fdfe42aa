import { expect, it } from 'vitest';
import { clientTypes } from '../../src/contract/clientTypes.js';

it('the CLI\'s API types are those openapi-typescript generates from the current OpenAPI document', async () => {
  // On failure: `npm run contract:types` rewrites them; then fix the CLI calls the new types break (npm run typecheck).
  await expect(await clientTypes()).toMatchFileSnapshot('../../src/cli/bulkflowApi.ts');
});
