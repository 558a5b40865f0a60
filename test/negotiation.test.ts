// createMetricsHandler's content negotiation, rule by rule (RFC 9110, section 12.5.1): media types
// are case-insensitive, each offer takes the q-value of the most specific range that matches it,
// q=0 refuses, the best q wins, and nothing acceptable is 406 Not Acceptable.
import { describe, expect, it } from 'vitest';
import { createMetricsHandler, MigrationStats, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE } from '../dist/index.js';
import { callHandler, type Answer } from './helpers.js';

const handler = createMetricsHandler(await MigrationStats.create());

/** Calls the handler as node:http would, with this Accept header (or none). */
function get(accept?: string | string[], method = 'GET'): Answer {
  return callHandler(handler, { method, headers: accept === undefined ? {} : { accept } });
}

const TEXT = 'text';
const OM = 'openmetrics';
const PB = 'protobuf';
/** Prometheus' own name of its protobuf format. */
const PROTO = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
const NONE = 406;

/** What the handler answered: `text`, `openmetrics`, `protobuf` or the status when it is not 200. */
function format(accept?: string | string[]): string | number {
  const { status, headers } = get(accept);
  if (status !== 200) return status;
  if (headers['content-type'] === PROMETHEUS_CONTENT_TYPE) return TEXT;
  if (headers['content-type'] === OPENMETRICS_CONTENT_TYPE) return OM;
  if (headers['content-type'] === PROTOBUF_CONTENT_TYPE) return PB;
  throw new Error(`unexpected content type ${headers['content-type']}`);
}

describe('createMetricsHandler: content negotiation', () => {
  it('answers the Prometheus text format without an Accept header, or with an empty one', () => {
    expect(format()).toBe(TEXT);
    expect(format('')).toBe(TEXT);
    expect(format('  ')).toBe(TEXT);
    expect(format(' , ,')).toBe(TEXT);
  });

  it('disregards an Accept header in which no element is a media range', () => {
    expect(format('garbage')).toBe(TEXT);
    expect(format('text, /plain, */plain, text/plain/x')).toBe(TEXT);
  });

  it('answers each format when it alone is asked for, by name or by wildcard', () => {
    expect(format('text/plain')).toBe(TEXT);
    expect(format('text/*')).toBe(TEXT);
    expect(format('application/openmetrics-text')).toBe(OM);
    expect(format('application/*')).toBe(OM);
    expect(format('*/*')).toBe(TEXT);
  });

  it('compares media types and parameter names case-insensitively', () => {
    expect(format('APPLICATION/OpenMetrics-Text')).toBe(OM);
    expect(format('TEXT/PLAIN')).toBe(TEXT);
    expect(format('Application/OpenMetrics-Text;Version=1.0.0;Q=0.5, Text/Plain;Q=0.4')).toBe(OM);
    expect(format('text/plain; CHARSET=UTF-8, application/openmetrics-text;q=0.5')).toBe(TEXT);
  });

  it('refuses a format whose q is 0, even when it is listed first', () => {
    expect(format('application/openmetrics-text;q=0, text/plain')).toBe(TEXT);
    expect(format('text/plain;q=0, application/openmetrics-text;q=0.001')).toBe(OM);
    expect(format('text/plain;q=0, */*')).toBe(OM);
    expect(format('application/openmetrics-text;q=0.000, */*;q=0.5')).toBe(TEXT);
  });

  it('answers the format with the highest q', () => {
    expect(format('application/openmetrics-text;q=0.2, text/plain;q=0.8')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=0.8, text/plain;q=0.2')).toBe(OM);
    expect(format('text/plain;q=0.5, application/openmetrics-text;q=0.501')).toBe(OM);
    expect(format('*/*;q=0.1, application/openmetrics-text;q=1.000')).toBe(OM);
  });

  it('gives each format the q of the most specific range that matches it', () => {
    expect(format('*/*;q=0.1, text/plain;q=0')).toBe(OM);
    expect(format('text/*;q=0.9, text/plain;q=0.1, application/openmetrics-text;q=0.5')).toBe(OM);
    expect(format('text/plain;q=0.9, text/plain;version=0.0.4;q=0.2, application/openmetrics-text;q=0.5')).toBe(OM);
    expect(format('application/*;q=0, */*')).toBe(TEXT);
  });

  it('breaks a tie of q and specificity towards OpenMetrics when both are named, else towards the text format', () => {
    expect(format('application/openmetrics-text, text/plain')).toBe(OM);
    expect(format('text/plain, application/openmetrics-text')).toBe(OM);
    expect(format('text/*, application/*')).toBe(TEXT);
    expect(format('*/*;q=0.5')).toBe(TEXT);
  });

  it('matches the version and charset parameters, and ignores others', () => {
    expect(format('application/openmetrics-text;version=0.0.1, text/plain;q=0.5')).toBe(TEXT);
    expect(format('application/openmetrics-text; version="1.0.0", text/plain;q=0.5')).toBe(OM);
    expect(format('text/plain;version=1.0.0, application/openmetrics-text;q=0.1')).toBe(OM);
    expect(format('text/plain; charset=iso-8859-1, application/openmetrics-text;q=0.1')).toBe(OM);
    expect(format('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5, text/plain;q=0.4')).toBe(OM);
  });

  it('ignores an element whose q-value is malformed (above 1, more than 3 decimals, no leading digit)', () => {
    expect(format('application/openmetrics-text;q=2, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=1.001, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=0.5555, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=.5, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=-1, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/openmetrics-text;q=0.5;q=0.6, text/plain;q=0.1')).toBe(TEXT);
  });

  it('answers the headers Prometheus servers send with OpenMetrics', () => {
    expect(format('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe(OM);
    expect(
      format('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1'),
    ).toBe(OM);
  });

  it('answers the protobuf format only when it is named with its message and framing', () => {
    expect(format(PROTO)).toBe(PB);
    expect(format('Application/Vnd.Google.Protobuf; proto="io.prometheus.client.MetricFamily"; Encoding=delimited')).toBe(PB);
    // Another message, another framing, or neither named: not this format.
    expect(format('application/vnd.google.protobuf;proto=io.prometheus.client.Metric;encoding=delimited, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text, text/plain;q=0.1')).toBe(TEXT);
    expect(format('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily')).toBe(NONE);
    expect(format('application/vnd.google.protobuf')).toBe(NONE);
    // Never by a wildcard.
    expect(format('application/*')).toBe(OM);
    expect(format('*/*')).toBe(TEXT);
  });

  it('weighs the protobuf format by its q like the others, and prefers it on a tie', () => {
    expect(format(`${PROTO};q=0.5, application/openmetrics-text;q=0.8`)).toBe(OM);
    expect(format(`text/plain;q=0.9, ${PROTO};q=0.5`)).toBe(TEXT);
    expect(format(`${PROTO};q=0, */*`)).toBe(TEXT);
    expect(format(`application/openmetrics-text, text/plain, ${PROTO}`)).toBe(PB);
    expect(format(`*/*;q=0.9, ${PROTO};q=0.9`)).toBe(PB);
  });

  it('answers the header of a Prometheus with native histograms on with the protobuf format', () => {
    expect(format('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe(PB);
    expect(get(PROTO, 'HEAD')).toMatchObject({ status: 200, body: undefined, headers: { vary: 'Accept', 'content-type': PROTOBUF_CONTENT_TYPE } });
  });

  it('answers 406 Not Acceptable, naming every format, when the header refuses every one or names none', () => {
    expect(format('application/openmetrics-text;q=0, text/plain;q=0')).toBe(NONE);
    expect(format('*/*;q=0')).toBe(NONE);
    expect(format('image/png')).toBe(NONE);
    expect(format('application/json, text/html')).toBe(NONE);
    expect(format('text/plain;q=0, garbage')).toBe(NONE);
    const answer = get('application/json');
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body).toBe(`Not Acceptable: this endpoint serves ${PROMETHEUS_CONTENT_TYPE}, ${OPENMETRICS_CONTENT_TYPE} and ${PROTOBUF_CONTENT_TYPE}\n`);
    expect(format(`${PROTO};q=0, text/plain;q=0, application/openmetrics-text;q=0`)).toBe(NONE);
  });

  it('reads a quoted parameter value with a comma or a semicolon in it as one value', () => {
    expect(format('text/plain;x="a,b;q=1";q=0.2, application/openmetrics-text;q=0.5')).toBe(OM);
    expect(format('text/plain;x="a\\",b;q=1";q=0.2, application/openmetrics-text;q=0.5')).toBe(OM);
  });

  it('takes headers given as an array (several Accept lines) as one list', () => {
    expect(format(['text/plain;q=0.1', 'application/openmetrics-text'])).toBe(OM);
    expect(format(['text/plain;q=0', 'application/openmetrics-text;q=0'])).toBe(NONE);
  });

  it('says that the answer depends on Accept, on every negotiated answer', () => {
    expect(get().headers.vary).toBe('Accept');
    expect(get('image/png').headers.vary).toBe('Accept');
    expect(get('application/openmetrics-text', 'HEAD')).toMatchObject({ status: 200, body: undefined, headers: { vary: 'Accept', 'content-type': OPENMETRICS_CONTENT_TYPE } });
  });
});
