// A user's script, type-checked (never run) with `tsc --noEmit --strict` against the built
// declarations, as a TypeScript user gets them: the API's types must say what it does.
import {
  Backend,
  DataClient,
  DriftError,
  EnsureAction,
  InferenceKeyError,
  JobKind,
  verifyWebhook,
  WebhookSignatureError,
  type JobRef,
  type WebhookEvent,
  ManagementClient,
  NotFoundError,
  OnDrift,
  type EnsureResult,
  type ReadinessEvent,
  type TextChunk,
} from "@inferencekey/sdk";

export async function main(): Promise<void> {
  await using mgmt = ManagementClient.fromEnv({ project: "acme" });
  const ref: EnsureResult = await mgmt.ensure(
    { name: "support-bot", slug: "support-bot", model: "meta-llama/Llama-3.1-8B-Instruct", backend: Backend.Vllm },
    { onDrift: OnDrift.DryRun, signal: AbortSignal.timeout(5000) },
  );
  const action: EnsureAction = ref.action;
  const ready: ReadinessEvent = await mgmt.waitUntilReady(ref.workloadSlug, {
    timeoutMs: 60_000,
    onProgress: (e) => console.log(e.phase, e.elapsedMs),
  });
  await using data = DataClient.fromEnv({ project: "acme" });
  await using ep = data.endpoint(ref.workloadSlug, { apiKey: process.env.INFERENCEKEY_API_KEY });
  const out = await ep.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 300 });
  const text: string = out.text;
  const reason: string | null = out.finishReason;
  for await (const chunk of await ep.generateTextStream({ messages: [{ role: "user", content: "hi" }] })) {
    const c: TextChunk = chunk;
    process.stdout.write(c.text);
  }
  const emb = await ep.embed({ input: ["a", "b"] });
  const first: Float64Array = emb.embeddings[0]!;
  const lists: number[][] = emb.lists;
  const ranked = await ep.rerank({ query: "q", documents: ["a", "b"], topN: 1 });
  const score: number = ranked.results[0]!.relevanceScore;
  try {
    await mgmt.get("missing");
  } catch (e) {
    if (e instanceof NotFoundError) console.log(e.statusCode, e.requestId);
    if (e instanceof DriftError) console.log(e.changes?.map((c) => c.field));
    if (e instanceof InferenceKeyError) console.log(e.code);
  }
  const job: JobRef = await ep.submitJob(JobKind.Chat, { messages: [{ role: "user", content: "hi" }] }, { context: { orderId: 1 }, timeoutMs: 5000 });
  await ep.submitJob("audio_transcriptions", new Uint8Array([1, 2]), { contentType: "multipart/form-data; boundary=b" });
  try {
    const ev: WebhookEvent = verifyWebhook(Buffer.from("{}"), new Headers(), "whsec_x", { toleranceSec: 60 });
    const status: string | undefined = ev.data?.status;
    verifyWebhook("{}", { "x-inferencekey-signature": ["t=1,v1=00"] }, "whsec_x");
    verifyWebhook("{}", [["x-inferencekey-signature", "t=1,v1=00"]], "whsec_x");
    console.log(job.jobId, ev.jobId, status);
  } catch (e) {
    if (e instanceof WebhookSignatureError) console.log(e.code);
  }
  console.log(action, ready.phase, text, reason, first.length, lists.length, score);
  // @ts-expect-error: a typo in a field name is a compile error
  await ep.generateText({ promt: "x" });
  // @ts-expect-error: a job body is JSON or bytes, not a string
  await ep.submitJob(JobKind.Chat, "hi");
  // @ts-expect-error: the Endpoint constructor is not for users
  new (await import("@inferencekey/sdk")).Endpoint(1n);
}
