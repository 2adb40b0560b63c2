-- query: 'handling.talkSeconds.gt=300'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'n' AND num > ?) OR (kind <> 'n' AND v > ?)))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'handling.talkSeconds'
2. 300.0
3. '300'
4. -1
5. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'n' AND num > ?) OR (kind <> 'n' AND v > ?))))

-- count params
1. 'handling.talkSeconds'
2. 300.0
3. '300'
