// Toast notifications (joins, leaves, reconnection, errors), newest at the bottom of the stack.
import type { ToastKind } from '../lib/session';
import { CloseIcon } from './icons';

export interface ToastItem {
  id: string;
  text: string;
  kind: ToastKind;
  sticky: boolean;
}

export function Toasts({ items, onDismiss }: { items: ToastItem[]; onDismiss: (id: string) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} data-testid="toast" data-kind={t.kind}>
          <span class="toast-dot" aria-hidden="true" />
          <span class="toast-text">{t.text}</span>
          <button type="button" class="toast-close" onClick={() => onDismiss(t.id)} aria-label="Dismiss">
            <CloseIcon size={14} />
          </button>
        </div>
      ))}
    </div>
  );
}
