/** Gemini `usageMetadata` in the gateway's terms and back (the field table is in gemini.ts). */
import type { Usage } from '../usage.js';
import { count, isObject } from './common.js';

export function geminiUsage(metadata: unknown): Usage | undefined {
  if (!isObject(metadata)) return undefined;
  const prompt = count(metadata.promptTokenCount);
  const cached = Math.min(prompt, count(metadata.cachedContentTokenCount));
  const thoughts = count(metadata.thoughtsTokenCount);
  return {
    inputTokens: prompt - cached + count(metadata.toolUsePromptTokenCount),
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(metadata.candidatesTokenCount) + thoughts,
    reasoningTokens: thoughts,
  };
}

/** The usageMetadata Google would report for a usage (a stream the gateway ends at its cap). */
export function usageMetadataOf(usage: Usage): Record<string, number> {
  const prompt = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  const candidates = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  const metadata: Record<string, number> = {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + usage.outputTokens,
  };
  if (usage.cachedInputTokens > 0) metadata.cachedContentTokenCount = usage.cachedInputTokens;
  if (usage.reasoningTokens > 0) metadata.thoughtsTokenCount = usage.reasoningTokens;
  return metadata;
}
