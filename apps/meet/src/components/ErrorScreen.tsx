// Full-screen failure: token refused, room full, server unreachable, or anything else — with a way back.
import type { Failure } from '../lib/errors';
import { AlertIcon } from './icons';

const ADVICE: Record<Failure['reason'], string> = {
  token: 'The server did not accept the access token for this room. Check the API key and secret the token endpoint uses.',
  full: 'The room has reached its participant limit. Try again later or pick another room.',
  unreachable: 'The Kite server could not be reached. Check that it is running and that this device can reach it.',
  other: 'The meeting could not continue.',
};

export function ErrorScreen({ failure, onBack, onRetry }: { failure: Failure; onBack: () => void; onRetry?: () => void }) {
  return (
    <div class="error-screen" data-testid="error-screen" data-reason={failure.reason} role="alert">
      <div class="error-card">
        <div class={`error-icon ${failure.reason}`}>
          <AlertIcon size={32} />
        </div>
        <h1>{failure.title}</h1>
        <p>{ADVICE[failure.reason]}</p>
        <pre class="error-detail">{failure.detail}</pre>
        <div class="error-actions">
          <button type="button" class="button primary" data-testid="back-to-prejoin" onClick={onBack} autofocus>
            Back to lobby
          </button>
          {onRetry && (
            <button type="button" class="button ghost" data-testid="retry" onClick={onRetry}>
              Try again
            </button>
          )}
        </div>
      </div>
    </div>
  );
}
