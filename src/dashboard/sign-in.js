// Trades the token for a session cookie, then opens the page that was asked for (deep links).
document.getElementById('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const field = document.getElementById('token');
  const error = document.getElementById('error');
  error.textContent = '';
  try {
    const response = await fetch('/api/session', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + field.value.trim(), 'x-jobdeck-request': '1' },
    });
    field.value = '';
    if (response.ok) location.reload();
    else error.textContent = (await response.json()).message;
  } catch {
    error.textContent = 'The server cannot be reached.';
  }
});
