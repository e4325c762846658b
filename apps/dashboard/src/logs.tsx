import { useEffect, useRef, useState } from 'preact/hooks';
import { call, describeError } from './api.js';
import { ErrorBox } from './components.js';

/** Reads a streamed body as text chunks until it ends or `signal` aborts. */
export async function readText(
  response: Response,
  signal: AbortSignal,
  chunk: (text: string) => void,
): Promise<void> {
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      chunk(value);
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** A job's output, followed live (`GET /api/v1/jobs/{id}/logs?follow=true`) until it ends. */
export function LogView(props: { jobId: string }) {
  const [text, setText] = useState('');
  const [state, setState] = useState<'following' | 'ended'>('following');
  const [error, setError] = useState<string | undefined>(undefined);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const controller = new AbortController();
    setText('');
    setState('following');
    const follow = async () => {
      try {
        const response = await call(`/api/v1/jobs/${props.jobId}/logs?follow=true`, {
          signal: controller.signal,
        });
        await readText(response, controller.signal, (chunk) => setText((t) => t + chunk));
        if (!controller.signal.aborted) setState('ended');
      } catch (failure) {
        if (!controller.signal.aborted) {
          setError(describeError(failure));
          setState('ended');
        }
      }
    };
    void follow();
    return () => controller.abort();
  }, [props.jobId]);
  useEffect(() => {
    const element = box.current;
    if (element !== null) element.scrollTop = element.scrollHeight;
  }, [text]);
  return (
    <div>
      <ErrorBox error={error} title="Could not read the logs" />
      <p class="muted">{state === 'following' ? 'Following the output live…' : 'End of output.'}</p>
      <pre class="logs" ref={box} data-state={state}>
        {text === '' ? (state === 'ended' ? '(no output)' : '') : text}
      </pre>
    </div>
  );
}
