/**
 * The chat template of a model folder: `chat_template` of its tokenizer_config.json (a Jinja
 * string, or a list of named templates of which "default" is taken), rendered with
 * @huggingface/jinja as transformers' `apply_chat_template(add_generation_prompt=True)` does,
 * with bos_token and eos_token from the same file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import { ApiError } from './api-error.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export class ChatTemplate {
  private constructor(private readonly template: Template, private readonly specials: Record<string, string>) {}

  /** The folder's template, or undefined when it has none. A template that does not parse is a UserError. */
  static load(dir: string): ChatTemplate | undefined {
    const file = path.join(dir, 'tokenizer_config.json');
    if (!fs.existsSync(file)) return undefined;
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    let source = config.chat_template;
    if (Array.isArray(source)) source = (source as { name?: unknown; template?: unknown }[]).find((t) => t.name === 'default')?.template;
    if (source === undefined) return undefined;
    if (typeof source !== 'string') throw new UserError(`${file}: chat_template must be a string or a list of {name, template}`);
    const specials: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
      const v = config[key];
      const text = typeof v === 'string' ? v : typeof (v as { content?: unknown } | null)?.content === 'string' ? (v as { content: string }).content : undefined;
      if (text !== undefined) specials[key] = text;
    }
    try {
      return new ChatTemplate(new Template(source), specials);
    } catch (e) {
      throw new UserError(`${file}: chat_template does not parse (${(e as Error).message})`);
    }
  }

  /** The prompt text for `messages`, ending where the assistant's answer begins. */
  render(messages: readonly ChatMessage[]): string {
    try {
      return this.template.render({ messages, add_generation_prompt: true, ...this.specials });
    } catch (e) {
      // templates raise on conversations they do not accept (e.g. roles out of order)
      throw new ApiError(400, `the chat template rejects these messages: ${(e as Error).message}`, 'messages');
    }
  }
}
