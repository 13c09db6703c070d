import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const switchyard = createOpenAI({
  baseURL: process.env.SWITCHYARD_BASE_URL,
  apiKey: process.env.SWITCHYARD_API_KEY,
});
// The Responses API (the default); switchyard.chat("gpt-4o-mini") would call Chat Completions.
const model = switchyard("gpt-4o-mini");

const { text, usage } = await generateText({ model, prompt: "Hello" });
console.log(text);
console.log(usage);

const result = streamText({ model, prompt: "Hello" });
for await (const delta of result.textStream) process.stdout.write(delta);
console.log();
console.log(await result.usage);
