/**
 * The attribute names copied into semconv.ts are the ones the pinned
 * @opentelemetry/semantic-conventions release publishes (imported here, in a test, only).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import { ATTR, GEN_AI_SEMCONV_VERSION, operationName } from './semconv.js';

describe('GenAI semantic conventions', () => {
  it('uses the names of the pinned semantic-conventions release', () => {
    // The package's exports leave out package.json: read it beside the resolved entry point.
    const entry = createRequire(import.meta.url).resolve('@opentelemetry/semantic-conventions');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toBe(GEN_AI_SEMCONV_VERSION);
    expect(ATTR).toMatchObject({
      operationName: incubating.ATTR_GEN_AI_OPERATION_NAME,
      providerName: incubating.ATTR_GEN_AI_PROVIDER_NAME,
      requestModel: incubating.ATTR_GEN_AI_REQUEST_MODEL,
      requestMaxTokens: incubating.ATTR_GEN_AI_REQUEST_MAX_TOKENS,
      requestStream: incubating.ATTR_GEN_AI_REQUEST_STREAM,
      responseModel: incubating.ATTR_GEN_AI_RESPONSE_MODEL,
      responseId: incubating.ATTR_GEN_AI_RESPONSE_ID,
      responseFinishReasons: incubating.ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
      inputTokens: incubating.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      outputTokens: incubating.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      cacheReadInputTokens: incubating.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
      cacheCreationInputTokens: incubating.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
      reasoningOutputTokens: incubating.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
      inputMessages: incubating.ATTR_GEN_AI_INPUT_MESSAGES,
      outputMessages: incubating.ATTR_GEN_AI_OUTPUT_MESSAGES,
      errorType: incubating.ATTR_ERROR_TYPE,
      httpStatus: incubating.ATTR_HTTP_RESPONSE_STATUS_CODE,
      httpMethod: incubating.ATTR_HTTP_REQUEST_METHOD,
      httpRoute: incubating.ATTR_HTTP_ROUTE,
      serverAddress: incubating.ATTR_SERVER_ADDRESS,
      serverPort: incubating.ATTR_SERVER_PORT,
    });
  });

  it('names operations with the well-known values', () => {
    expect(operationName('chat')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('messages')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('responses')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('completions')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION);
    expect(operationName('embeddings')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
  });
});
