SELECT COUNT(*) FROM students WHERE grade = 10	school_library
SELECT title FROM books ORDER BY published_year DESC LIMIT 1	school_library
SELECT DISTINCT T3.title FROM students AS T1 JOIN loans AS T2 ON T1.student_id = T2.student_id JOIN books AS T3 ON T2.book_id = T3.book_id WHERE T1.grade = 12	school_library
SELECT genre FROM books WHERE published_year < 2000 INTERSECT SELECT genre FROM books WHERE published_year > 2015	school_library
SELECT first_name FROM students WHERE email IS NULL	school_library
SELECT genre, MAX(pages) FROM books GROUP BY genre	school_library
SELECT DISTINCT country FROM authors WHERE author_id IN (SELECT T1.author_id FROM books AS T1 JOIN loans AS T2 ON T1.book_id = T2.book_id)	school_library
SELECT MAX(capacity) FROM vehicles	city_transit
SELECT T1.model FROM vehicles AS T1 JOIN lines AS T2 ON T1.line_id = T2.line_id WHERE T2.line_name = 'Airport Link'	city_transit
SELECT trip_id FROM trips WHERE delay_minutes BETWEEN 5 AND 10	city_transit
SELECT district FROM stations WHERE has_elevator = 0 EXCEPT SELECT district FROM stations WHERE zone = 3	city_transit
SELECT COUNT(*) FROM trips WHERE trip_date = '2024-03-05'	city_transit
SELECT T3.mode FROM trips AS T1 JOIN vehicles AS T2 ON T1.vehicle_id = T2.vehicle_id JOIN lines AS T3 ON T2.line_id = T3.line_id GROUP BY T3.mode HAVING AVG(T1.delay_minutes) > 5	city_transit
SELECT line_name FROM lines WHERE line_id IN (SELECT T1.line_id FROM line_stops AS T1 JOIN stations AS T2 ON T1.station_id = T2.station_id WHERE T2.station_name = 'Central Station')	city_transit
SELECT MAX(fee) FROM appointments	clinic
SELECT DISTINCT T1.full_name FROM patients AS T1 JOIN appointments AS T2 ON T1.patient_id = T2.patient_id JOIN doctors AS T3 ON T2.doctor_id = T3.doctor_id WHERE T3.full_name = 'Dr. Linda Chow'	clinic
SELECT T2.name, AVG(T1.salary) FROM doctors AS T1 JOIN departments AS T2 ON T1.department_id = T2.department_id GROUP BY T2.name	clinic
SELECT full_name FROM doctors WHERE department_id IN (SELECT department_id FROM departments WHERE floor = 2)	clinic
SELECT COUNT(*) FROM appointments WHERE status = 'scheduled'	clinic
SELECT DISTINCT medication FROM prescriptions WHERE days > 20	clinic
SELECT DISTINCT T3.name FROM appointments AS T1 JOIN doctors AS T2 ON T1.doctor_id = T2.doctor_id JOIN departments AS T3 ON T2.department_id = T3.department_id WHERE T1.appointment_date BETWEEN '2024-03-01' AND '2024-03-31'	clinic
