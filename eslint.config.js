import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * `files` under src/<folder> may not import src/<forbidden>/… (relative imports, at any depth).
 * `noFastify`: not fastify at all; `fastifyTypesOnly`: `import type` from fastify only.
 * `drivers`: may import the store classes (store/drivers.ts, store/sqlite/…, store/postgres/…),
 * which load better-sqlite3 and pg; everywhere else the store is reached through store/index.js
 * and openStore, which loads a driver only when one is opened (the root entry loads none).
 */
function layer(folders, forbidden, { noFastify = false, fastifyTypesOnly = false, drivers = false }) {
  const paths =
    noFastify || fastifyTypesOnly
      ? [
          {
            name: 'fastify',
            allowTypeImports: fastifyTypesOnly,
            message: 'only server/ runs fastify (adapters/fastify.ts takes its types)',
          },
        ]
      : [];
  return [
    {
      files: folders.map((folder) => `src/${folder}/**/*.ts`),
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            paths,
            patterns: [
              {
                regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
                message: `src/${folders.join(', ')} may not import ${forbidden.join(', ')}: the layers of docs/architecture.md`,
              },
              ...(drivers
                ? []
                : [
                    {
                      regex: '^(\\.\\./)+store/(sqlite/|postgres/|drivers\\.js$)',
                      allowTypeImports: true,
                      message:
                        'import the store through store/index.js: its classes load better-sqlite3 and pg (store/drivers.ts)',
                    },
                  ]),
            ],
          },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', '.tmp/**', '.tmp-wt/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setImmediate: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The layering of src/ (docs/architecture.md): data flows HTTP adapters, server, cli → compose →
  // ingest → store → dispatch, and no folder imports one above it. One block per folder, so the
  // drawing cannot drift from the code.
  ...layer(
    ['contract', 'lifecycle', 'auth', 'retry', 'threads'],
    ['store', 'ingest', 'dispatch', 'compose', 'receiver', 'adapters', 'server', 'cli', 'sandbox'],
    { noFastify: true },
  ),
  ...layer(['store'], ['ingest', 'dispatch', 'compose', 'receiver', 'adapters', 'server', 'cli', 'sandbox'], {
    noFastify: true,
    drivers: true,
  }),
  ...layer(['ingest'], ['dispatch', 'compose', 'receiver', 'adapters', 'server', 'cli', 'sandbox'], {
    noFastify: true,
  }),
  ...layer(['dispatch'], ['ingest', 'compose', 'receiver', 'adapters', 'server', 'cli', 'sandbox'], {
    noFastify: true,
  }),
  ...layer(['compose'], ['receiver', 'adapters', 'server', 'cli', 'sandbox'], { noFastify: true }),
  // An adapter sees only the pipeline; fastify's types, never fastify itself (the library loads no server).
  ...layer(['adapters'], ['store', 'dispatch', 'compose', 'receiver', 'server', 'cli', 'sandbox'], {
    fastifyTypesOnly: true,
  }),
  ...layer(['receiver'], ['server', 'cli', 'sandbox'], {}),
  // serve checks for the threaded SQLite store by class (start.ts).
  ...layer(['server'], ['receiver', 'cli', 'sandbox'], { drivers: true }),
  // The sandbox is a program of its own: it shares the pure core and a little of the store.
  ...layer(['sandbox'], ['ingest', 'dispatch', 'compose', 'receiver', 'adapters', 'server', 'cli'], { drivers: true }),
  {
    // Tests read arbitrary JSON off the wire; typing every response shape would only add noise.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
