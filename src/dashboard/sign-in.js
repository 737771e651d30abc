document.getElementById('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const field = document.getElementById('token');
  const response = await fetch('/api/session', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + field.value.trim(), 'x-jobdeck-request': '1' },
  });
  field.value = '';
  if (response.ok) location.assign('/dashboard');
  else document.getElementById('error').textContent = (await response.json()).message;
});
