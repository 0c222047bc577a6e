export interface SseEvent { id?: string; event?: string; data: string }

/** Reads Server-Sent Events from a streaming response, as a browser's EventSource parses them. */
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: SseEvent[] = [];
  const parse = () => {
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const ev: SseEvent = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'id') ev.id = value;
        else if (field === 'event') ev.event = value;
      }
      if (data.length) queue.push({ ...ev, data: data.join('\n') });
    }
  };
  return {
    /** The next event (skipping keep-alive comments). */
    async next(): Promise<SseEvent> {
      while (!queue.length) {
        const { value, done } = await reader.read();
        if (done) throw new Error('event stream ended');
        buffer += decoder.decode(value, { stream: true });
        parse();
      }
      return queue.shift()!;
    },
    async close() {
      await reader.cancel();
    },
  };
}
