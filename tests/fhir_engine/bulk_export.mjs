// FHIR Bulk Data export (HL7 Bulk Data Access IG 2.0) over the engine's repository: the async request pattern.
//
//   GET|POST {base}/$export | {base}/Patient/$export | {base}/Group/{id}/$export   (Prefer: respond-async)
//        _type, _typeFilter (Type?search, OR-ed per type), _since (meta.lastUpdated after), _outputFormat
//     -> 202 Content-Location: {base}/$export-status/{job}
//   GET    {base}/$export-status/{job} -> 202 X-Progress + Retry-After while running (the first --export-polls polls),
//                                         then 200 with the manifest (requiresAccessToken when the engine has a token)
//   DELETE {base}/$export-status/{job} -> 202; the job is gone (404 afterwards)
//   GET    {base}/$export-file/{job}/{name} -> application/fhir+ndjson (the bearer token when the engine has one)
//
// Output files hold --export-file-lines resources each (several files per type); a type whose _typeFilter the
// repository cannot search is reported in an OperationOutcome error file rather than failing the whole export.

import { randomUUID } from 'node:crypto';

import { isResourceType, parseSearchRequest } from '@medplum/core';

const PAGE = 1000;
const SUBJECT_ELEMENTS = ['subject', 'patient'];
const SHARED_TYPES = new Set(['Medication']);

export class BulkExport {
  constructor(repo, opts, HttpError) {
    this.repo = repo;
    this.opts = opts;
    this.HttpError = HttpError;
    this.jobs = new Map();
  }

  // Routes the export paths; returns undefined for any other request.
  async handle(method, segments, query, headers, publicBase, requestUrl) {
    const last = segments.at(-1);
    if (last === '$export' && (method === 'GET' || method === 'POST')) {
      return this.kickOff(segments.slice(0, -1), query, headers, publicBase, requestUrl);
    }
    if (segments[0] === '$export-status' && segments.length === 2) return this.status(method, segments[1]);
    if (segments[0] === '$export-file' && segments.length === 3 && method === 'GET') {
      return this.file(segments[1], segments[2]);
    }
    return undefined;
  }

  async kickOff(scope, query, headers, publicBase, requestUrl) {
    if (!/respond-async/.test(headers.prefer ?? '')) {
      throw new this.HttpError(400, 'invalid', 'Bulk Data kick-off needs the header Prefer: respond-async');
    }
    const format = query._outputFormat;
    if (format && !['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(format)) {
      throw new this.HttpError(400, 'not-supported', `_outputFormat ${format} is not supported`);
    }
    const level = scope.length === 0 ? 'system' : scope[0] === 'Patient' ? 'patient' : 'group';
    if (level === 'group' && (scope[0] !== 'Group' || scope.length !== 2)) {
      throw new this.HttpError(404, 'not-found', 'no such export endpoint');
    }
    const members = level === 'group' ? await this.groupMembers(scope[1]) : null;
    const types = listParam(query._type, (v) => v.split(','));
    for (const type of types) {
      if (!isResourceType(type)) throw new this.HttpError(400, 'invalid', `_type ${type} is not a resource type`);
    }
    const job = { id: randomUUID(), polls: 0, request: requestUrl, publicBase, done: null };
    this.jobs.set(job.id, job);
    job.work = this.build(job, level, types, filtersByType(listParam(query._typeFilter, splitTopLevel)), query._since, members);
    job.work.catch(() => {});
    return { status: 202, body: undefined, headers: { 'Content-Location': `${publicBase}/$export-status/${job.id}` } };
  }

  async groupMembers(groupId) {
    let group;
    try {
      group = await this.repo.readResource('Group', groupId);
    } catch {
      throw new this.HttpError(404, 'not-found', `Group/${groupId} not found`);
    }
    return new Set((group.member ?? []).map((m) => m.entity?.reference).filter(Boolean));
  }

  async build(job, level, types, filters, since, members) {
    const wanted = types.length > 0 ? types : await this.storedTypes(level);
    const files = [];
    const errors = [];
    for (const type of wanted) {
      try {
        const resources = await this.select(type, filters.get(type), since, members);
        for (let start = 0; start < resources.length; start += this.opts.exportFileLines) {
          const chunk = resources.slice(start, start + this.opts.exportFileLines);
          files.push({ type, name: `${type}.${files.filter((f) => f.type === type).length}.ndjson`, lines: chunk });
        }
      } catch (err) {
        errors.push({ type, text: `${type} not exported: ${err?.message ?? err}` });
      }
    }
    job.done = { files, errors, transactionTime: new Date().toISOString() };
  }

  async storedTypes(level) {
    const types = [];
    for (const type of this.repo.resources?.keys() ?? []) {
      if (level === 'system' || type === 'Patient' || SHARED_TYPES.has(type) || (await this.hasSubject(type))) {
        types.push(type);
      }
    }
    return types.sort();
  }

  async hasSubject(type) {
    const [first] = await this.searchAll(type, {});
    return Boolean(first && SUBJECT_ELEMENTS.some((key) => first[key]?.reference));
  }

  async select(type, typeFilters, since, members) {
    const base = since ? { _lastUpdated: `gt${since}` } : {};
    const queries = typeFilters?.length ? typeFilters.map((q) => ({ ...q, ...base })) : [base];
    const found = new Map();
    for (const query of queries) {
      for (const resource of await this.searchAll(type, query)) found.set(resource.id, resource);
    }
    const selected = [...found.values()];
    if (!members) return selected;
    return selected.filter((r) =>
      type === 'Patient' ? members.has(`Patient/${r.id}`) : SHARED_TYPES.has(type) || belongsTo(r, members)
    );
  }

  async searchAll(type, query) {
    const all = [];
    for (let offset = 0; ; offset += PAGE) {
      const request = parseSearchRequest(type, { ...query, _count: String(PAGE), _offset: String(offset) });
      const bundle = await this.repo.search(request);
      const entries = bundle.entry ?? [];
      all.push(...entries.map((e) => e.resource));
      if (entries.length < PAGE) return all;
    }
  }

  async status(method, id) {
    const job = this.jobs.get(id);
    if (!job) throw new this.HttpError(404, 'not-found', 'no such export job (finished, cancelled or never started)');
    if (method === 'DELETE') {
      this.jobs.delete(id);
      return { status: 202, body: outcomeInfo('export cancelled') };
    }
    if (method !== 'GET') throw new this.HttpError(405, 'not-supported', `${method} not allowed here`);
    await job.work;
    if (job.polls++ < this.opts.exportPolls) {
      const progress = `${Math.round((100 * job.polls) / (this.opts.exportPolls + 1))}% done`;
      return { status: 202, body: undefined, headers: { 'X-Progress': progress, 'Retry-After': '1' } };
    }
    const url = (name) => `${job.publicBase}/$export-file/${job.id}/${name}`;
    job.errorFile = job.done.errors.map((e) => JSON.stringify(outcomeError(e.text))).join('\n');
    return {
      status: 200,
      body: {
        transactionTime: job.done.transactionTime,
        request: job.request,
        requiresAccessToken: Boolean(this.opts.token),
        output: job.done.files.map((f) => ({ type: f.type, url: url(f.name), count: f.lines.length })),
        error: job.done.errors.length ? [{ type: 'OperationOutcome', url: url('errors.ndjson') }] : [],
      },
    };
  }

  file(id, name) {
    const job = this.jobs.get(id);
    const file = job?.done?.files.find((f) => f.name === name);
    if (job && name === 'errors.ndjson' && job.errorFile !== undefined) return { status: 200, ndjson: job.errorFile + '\n' };
    if (!file) throw new this.HttpError(404, 'not-found', 'no such export file');
    return { status: 200, ndjson: file.lines.map((r) => JSON.stringify(r)).join('\n') + '\n' };
  }
}

function listParam(value, split) {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.flatMap((v) => split(v).map((s) => s.trim())).filter(Boolean);
}

// _typeFilter values are comma-separated, but a filter's own search values contain commas (code=a,b): split only
// at commas followed by a resource type and "?".
function splitTopLevel(value) {
  return value.split(/,(?=[A-Z][A-Za-z]+\?)/).map((s) => s.trim());
}

function filtersByType(filters) {
  const byType = new Map();
  for (const filter of filters) {
    const [type, search] = filter.split('?', 2);
    if (!isResourceType(type) || search === undefined) continue;
    const query = {};
    for (const [key, v] of new URLSearchParams(search)) query[key] = key in query ? [].concat(query[key], v) : v;
    byType.set(type, [...(byType.get(type) ?? []), query]);
  }
  return byType;
}

function belongsTo(resource, members) {
  return SUBJECT_ELEMENTS.some((key) => members.has(resource[key]?.reference));
}

function outcomeInfo(text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}

function outcomeError(text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', details: { text } }] };
}
