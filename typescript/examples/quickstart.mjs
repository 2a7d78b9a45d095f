// The quickstart of bindings.md §3, in JavaScript: reads INFERENCEKEY_BASE_URL,
// INFERENCEKEY_SDK_TOKEN and INFERENCEKEY_API_KEY (`inferencekey dev` prints them).
import { ManagementClient, DataClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });
const ref = await mgmt.ensure({ name: "support-bot", slug: "support-bot",
  model: "meta-llama/Llama-3.1-8B-Instruct", backend: Backend.Vllm,
  command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192" });
await mgmt.waitUntilReady(ref.workloadSlug);
const data = DataClient.fromEnv({ project: "acme" });
const ep = data.endpoint(ref.workloadSlug, { apiKey: process.env.INFERENCEKEY_API_KEY });
const out = await ep.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 300 });
console.log(out.text, out.model);
